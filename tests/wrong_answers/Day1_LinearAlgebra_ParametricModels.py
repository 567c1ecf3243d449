"""Realistic wrong answers for Day 1. Each must lose points on the cells it names."""
from course.checks.submissions import WrongAnswer

WRONG = [
    WrongAnswer("relu_abs", cell="relu", loses=["test_relu"],
                code="def relu(z):\n    return np.abs(z)\n"),
    WrongAnswer("relu_leaky", cell="relu", loses=["test_relu"],
                code="def relu(z):\n    return np.where(z > 0, z, 0.01 * z)\n"),
    WrongAnswer("affine_no_bias", cell="affine", loses=["test_affine"],
                code="def affine(x, W, b):\n    return x @ W.T\n"),
    # x @ W instead of W x: works only when W is square (k == d), the visible batch test has k != d
    WrongAnswer("affine_x_at_W", cell="affine", loses=["test_affine"],
                code="def affine(x, W, b):\n    return x @ W + b\n"),
    WrongAnswer("forward_missing_output_bias", cell="mlp_forward", loses=["test_forward_single", "test_forward_batch"],
                code="def mlp_forward(x, W1, b1, W2, b2):\n    h = relu(affine(x, W1, b1))\n    return h @ W2.T\n"),
    WrongAnswer("forward_no_relu", cell="mlp_forward", loses=["test_forward_single", "test_forward_batch"],
                code="def mlp_forward(x, W1, b1, W2, b2):\n    return affine(affine(x, W1, b1), W2, b2)\n"),
    # only right for square hidden layers: uses W1 @ x.T which breaks batch shapes
    WrongAnswer("forward_single_only", cell="mlp_forward", loses=["test_forward_batch"],
                code="def mlp_forward(x, W1, b1, W2, b2):\n    h = relu(W1 @ x + b1)\n    return W2 @ h + b2\n"),
    WrongAnswer("count_hardcoded", cell="count_params", loses=["test_count_params"],
                code="def count_params(d, m, k):\n    return 203530\n"),
    WrongAnswer("count_no_bias", cell="count_params", loses=["test_count_params"],
                code="def count_params(d, m, k):\n    return d * m + m * k\n"),
    WrongAnswer("count_missing_output_bias", cell="count_params", loses=["test_count_params"],
                code="def count_params(d, m, k):\n    return d * m + m + m * k\n"),
    WrongAnswer("torch_mlp_no_bias", cell="torch_mlp", loses=["test_torch_mlp"],
                code=("class TwoLayerMLP(torch.nn.Module):\n"
                      "    def __init__(self, d_in=784, d_hidden=256, d_out=10):\n"
                      "        super().__init__()\n"
                      "        self.fc1 = torch.nn.Linear(d_in, d_hidden, bias=False)\n"
                      "        self.fc2 = torch.nn.Linear(d_hidden, d_out, bias=False)\n"
                      "    def hidden(self, x):\n        return torch.relu(self.fc1(x))\n"
                      "    def forward(self, x):\n        return self.fc2(self.hidden(x))\n")),
    WrongAnswer("pca_not_centred", cell="pca", loses=["test_pca"],
                code=("def pca_project(H, k=2):\n"
                      "    U, S, Vt = np.linalg.svd(H, full_matrices=False)\n"
                      "    return H @ Vt[:k].T\n")),
    WrongAnswer("pca_columns_of_U", cell="pca", loses=["test_pca"],
                code=("def pca_project(H, k=2):\n"
                      "    H_c = H - H.mean(axis=0)\n"
                      "    U, S, Vt = np.linalg.svd(H_c, full_matrices=False)\n"
                      "    return H_c @ U[:, :k]\n")),
    WrongAnswer("pca_columns_of_Vt", cell="pca", loses=["test_pca"],
                code=("def pca_project(H, k=2):\n"
                      "    H_c = H - H.mean(axis=0)\n"
                      "    U, S, Vt = np.linalg.svd(H_c, full_matrices=False)\n"
                      "    return H_c @ Vt[:, :k]\n")),
    WrongAnswer("ae_no_sigmoid", cell="autoencoder", loses=["test_ae_shapes"],
                code=("class Autoencoder(torch.nn.Module):\n"
                      "    def __init__(self, d=784, k=2, hidden=256):\n"
                      "        super().__init__()\n"
                      "        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k))\n"
                      "        self.decoder = torch.nn.Sequential(torch.nn.Linear(k, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, d))\n"
                      "    def encode(self, x):\n        return self.encoder(x)\n"
                      "    def decode(self, z):\n        return self.decoder(z)\n"
                      "    def forward(self, x):\n        return self.decode(self.encode(x))\n")),
    WrongAnswer("ae_latent_fixed_at_2", cell="autoencoder", loses=["test_ae_shapes"],
                code=("class Autoencoder(torch.nn.Module):\n"
                      "    def __init__(self, d=784, k=2, hidden=256):\n"
                      "        super().__init__()\n"
                      "        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))\n"
                      "        self.decoder = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, d), torch.nn.Sigmoid())\n"
                      "    def encode(self, x):\n        return self.encoder(x)\n"
                      "    def decode(self, z):\n        return self.decoder(z)\n"
                      "    def forward(self, x):\n        return self.decode(self.encode(x))\n")),
    WrongAnswer("recon_mse_mean", cell="recon_loss", loses=["test_recon_loss"],
                code="def reconstruction_loss(x, x_hat):\n    return torch.nn.functional.mse_loss(x_hat, x)\n"),
    WrongAnswer("recon_summed_over_batch", cell="recon_loss", loses=["test_recon_loss"],
                code="def reconstruction_loss(x, x_hat):\n    return ((x - x_hat) ** 2).sum()\n"),
    WrongAnswer("recon_gradient_free", cell="recon_loss", loses=["test_ae_trains"],
                code=("def reconstruction_loss(x, x_hat):\n"
                      "    return torch.tensor(float(((x - x_hat) ** 2).sum(dim=1).mean().detach()), requires_grad=True)\n")),
    WrongAnswer("interp_misses_endpoint", cell="interpolate", loses=["test_interpolate"],
                code=("def interpolate(z0, z1, n_steps):\n"
                      "    t = torch.linspace(0, 1, n_steps + 1, dtype=z0.dtype)[:-1].unsqueeze(1)\n"
                      "    return (1 - t) * z0 + t * z1\n")),
    WrongAnswer("interp_not_linear", cell="interpolate", loses=["test_interpolate"],
                code=("def interpolate(z0, z1, n_steps):\n"
                      "    t = torch.linspace(0, 1, n_steps, dtype=z0.dtype).unsqueeze(1) ** 2\n"
                      "    return (1 - t) * z0 + t * z1\n")),
]
