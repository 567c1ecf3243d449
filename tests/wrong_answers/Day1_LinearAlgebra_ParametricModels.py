"""Realistic wrong answers for Day 1. Each must lose points on the cells it names."""
from course.checks.submissions import WrongAnswer

WRONG = [
    WrongAnswer("relu_abs", cell="relu", loses=["test_relu"],
                code="def relu(z):\n    return np.abs(z)\n", visible=False),
    WrongAnswer("relu_leaky", cell="relu", loses=["test_relu"],
                code="def relu(z):\n    return np.where(z > 0, z, 0.01 * z)\n", visible=False),
    WrongAnswer("affine_no_bias", cell="affine", loses=["test_affine"],
                code="def affine(x, W, b):\n    return x @ W.T\n", visible=False),
    # x @ W instead of W x: works only when W is square (k == d), the visible batch test has k != d
    WrongAnswer("affine_x_at_W", cell="affine", loses=["test_affine"],
                code="def affine(x, W, b):\n    return x @ W + b\n", visible=False),
    WrongAnswer("forward_missing_output_bias", cell="mlp_forward", loses=["test_forward_single", "test_forward_batch"],
                code="def mlp_forward(x, W1, b1, W2, b2):\n    h = relu(affine(x, W1, b1))\n    return h @ W2.T\n", visible=False),
    WrongAnswer("forward_no_relu", cell="mlp_forward", loses=["test_forward_single", "test_forward_batch"],
                code="def mlp_forward(x, W1, b1, W2, b2):\n    return affine(affine(x, W1, b1), W2, b2)\n", visible=False),
    # only right for square hidden layers: uses W1 @ x.T which breaks batch shapes
    WrongAnswer("forward_single_only", cell="mlp_forward", loses=["test_forward_batch"],
                code="def mlp_forward(x, W1, b1, W2, b2):\n    h = relu(W1 @ x + b1)\n    return W2 @ h + b2\n", visible=False),
    WrongAnswer("count_hardcoded", cell="count_params", loses=["test_count_params"],
                code="def count_params(d, m, k):\n    return 203530\n"),
    WrongAnswer("count_no_bias", cell="count_params", loses=["test_count_params"],
                code="def count_params(d, m, k):\n    return d * m + m * k\n", visible=False),
    WrongAnswer("count_missing_output_bias", cell="count_params", loses=["test_count_params"],
                code="def count_params(d, m, k):\n    return d * m + m + m * k\n", visible=False),
    WrongAnswer("torch_mlp_no_bias", cell="torch_mlp", loses=["test_torch_mlp"],
                code=("class TwoLayerMLP(torch.nn.Module):\n"
                      "    def __init__(self, d_in=784, d_hidden=256, d_out=10):\n"
                      "        super().__init__()\n"
                      "        self.fc1 = torch.nn.Linear(d_in, d_hidden, bias=False)\n"
                      "        self.fc2 = torch.nn.Linear(d_hidden, d_out, bias=False)\n"
                      "    def hidden(self, x):\n        return torch.relu(self.fc1(x))\n"
                      "    def forward(self, x):\n        return self.fc2(self.hidden(x))\n"), visible=False),
    WrongAnswer("pca_not_centred", cell="pca", loses=["test_pca"],
                code=("def pca_project(H, k=2):\n"
                      "    U, S, Vt = np.linalg.svd(H, full_matrices=False)\n"
                      "    return H @ Vt[:k].T\n"), visible=False),
    WrongAnswer("pca_columns_of_U", cell="pca", loses=["test_pca"],
                code=("def pca_project(H, k=2):\n"
                      "    H_c = H - H.mean(axis=0)\n"
                      "    U, S, Vt = np.linalg.svd(H_c, full_matrices=False)\n"
                      "    return H_c @ U[:, :k]\n"), visible=False),
    WrongAnswer("pca_columns_of_Vt", cell="pca", loses=["test_pca"],
                code=("def pca_project(H, k=2):\n"
                      "    H_c = H - H.mean(axis=0)\n"
                      "    U, S, Vt = np.linalg.svd(H_c, full_matrices=False)\n"
                      "    return H_c @ Vt[:, :k]\n"), visible=False),
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
                code="def reconstruction_loss(x, x_hat):\n    return torch.nn.functional.mse_loss(x_hat, x)\n", visible=False),
    WrongAnswer("recon_summed_over_batch", cell="recon_loss", loses=["test_recon_loss"],
                code="def reconstruction_loss(x, x_hat):\n    return ((x - x_hat) ** 2).sum()\n", visible=False),
    # issue 15: test_ae_trains now trains with its own loss (it judges Autoencoder alone), so the gradient check
    # that catches this moved into test_recon_loss
    WrongAnswer("recon_gradient_free", cell="recon_loss", loses=["test_recon_loss"],
                code=("def reconstruction_loss(x, x_hat):\n"
                      "    return torch.tensor(float(((x - x_hat) ** 2).sum(dim=1).mean().detach()), requires_grad=True)\n")),
    WrongAnswer("interp_misses_endpoint", cell="interpolate", loses=["test_interpolate"],
                code=("def interpolate(z0, z1, n_steps):\n"
                      "    t = torch.linspace(0, 1, n_steps + 1, dtype=z0.dtype)[:-1].unsqueeze(1)\n"
                      "    return (1 - t) * z0 + t * z1\n"), visible=False),
    WrongAnswer("interp_not_linear", cell="interpolate", loses=["test_interpolate"],
                code=("def interpolate(z0, z1, n_steps):\n"
                      "    t = torch.linspace(0, 1, n_steps, dtype=z0.dtype).unsqueeze(1) ** 2\n"
                      "    return (1 - t) * z0 + t * z1\n"), visible=False),
]

# ---- issue 15: wrong answers that pass every visible check and lose points only in the hidden tests ----

# Side effect: zeroes the negatives of the caller's array in place. Caught by test_relu's hidden
# "relu must not modify its input" (Z is compared with a copy taken before the call).
WRONG.append(WrongAnswer("relu_in_place", cell="relu", loses=["test_relu"],
                         code="def relu(z):\n    z[z < 0] = 0\n    return z\n"))

# Structure hidden behind shapes: a loop over the entries works for the visible 1-D vector only. Caught by
# test_relu's hidden call on a (7, 5, 3) array (max(0, row) of a row raises, so the cell fails).
WRONG.append(WrongAnswer("relu_loop_1d_only", cell="relu", loses=["test_relu"],
                         code="def relu(z):\n    return np.array([max(0.0, v) for v in z])\n"))

# Exact boundaries: squeezes the output, so a batch of ONE example comes back 1-D. Caught by test_forward_batch's
# hidden shape assertion for (n, d, m, k) = (1, 9, 4, 6): expected (1, 6).
WRONG.append(WrongAnswer("forward_squeezes_batch_of_one", cell="mlp_forward", loses=["test_forward_batch"],
                         code=("def mlp_forward(x, W1, b1, W2, b2):\n"
                               "    X = np.atleast_2d(x)\n"
                               "    return np.squeeze(affine(relu(affine(X, W1, b1)), W2, b2))\n")))

# Hard-coding: sums the sizes of the demo's global `params` (the 784-256-10 arrays), ignoring d, m, k. Caught by
# test_count_params' hidden comparison with torch's parameter count for random sizes.
WRONG.append(WrongAnswer("count_reads_global_params", cell="count_params", loses=["test_count_params"],
                         code="def count_params(d, m, k):\n    return sum(v.size for v in params.values())\n"))

# Structure hidden behind shapes: hidden() forgets the ReLU, so the model is linear; counts and shapes agree.
# Caught by test_torch_mlp's hidden "hidden must be relu(fc1(x))" on known weights.
WRONG.append(WrongAnswer("torch_mlp_no_relu", cell="torch_mlp", loses=["test_torch_mlp"],
                         code=("class TwoLayerMLP(torch.nn.Module):\n"
                               "    def __init__(self, d_in=784, d_hidden=256, d_out=10):\n"
                               "        super().__init__()\n"
                               "        self.fc1 = torch.nn.Linear(d_in, d_hidden)\n"
                               "        self.fc2 = torch.nn.Linear(d_hidden, d_out)\n"
                               "    def hidden(self, x):\n        return self.fc1(x)\n"
                               "    def forward(self, x):\n        return self.fc2(self.hidden(x))\n")))

# Gradient flow: hidden() detaches (to make plotting easy), so forward cuts fc1 off the graph; the loss still falls
# because fc2 trains. Caught by test_torch_mlp's hidden "fc1.weight gets no gradient from the logits".
WRONG.append(WrongAnswer("torch_mlp_hidden_detached", cell="torch_mlp", loses=["test_torch_mlp"],
                         code=("class TwoLayerMLP(torch.nn.Module):\n"
                               "    def __init__(self, d_in=784, d_hidden=256, d_out=10):\n"
                               "        super().__init__()\n"
                               "        self.fc1 = torch.nn.Linear(d_in, d_hidden)\n"
                               "        self.fc2 = torch.nn.Linear(d_hidden, d_out)\n"
                               "    def hidden(self, x):\n        return torch.relu(self.fc1(x)).detach()\n"
                               "    def forward(self, x):\n        return self.fc2(self.hidden(x))\n")))

# Hard-coding: the input layer is always Linear(784, ...) (MNIST), ignoring d_in. Caught by test_torch_mlp's
# hidden parameter count for TwoLayerMLP(7, 5, 3) against the formula written in the test.
WRONG.append(WrongAnswer("torch_mlp_input_fixed_784", cell="torch_mlp", loses=["test_torch_mlp"],
                         code=("class TwoLayerMLP(torch.nn.Module):\n"
                               "    def __init__(self, d_in=784, d_hidden=256, d_out=10):\n"
                               "        super().__init__()\n"
                               "        self.fc1 = torch.nn.Linear(784, d_hidden)\n"
                               "        self.fc2 = torch.nn.Linear(d_hidden, d_out)\n"
                               "    def hidden(self, x):\n        return torch.relu(self.fc1(x))\n"
                               "    def forward(self, x):\n        return self.fc2(self.hidden(x))\n")))

# Side effect: centres H in place (H -= mean), so the caller's activations change. Caught by test_pca's hidden
# "pca_project must not modify H" (the sklearn reference is computed before the call).
WRONG.append(WrongAnswer("pca_centres_in_place", cell="pca", loses=["test_pca"],
                         code=("def pca_project(H, k=2):\n"
                               "    H -= H.mean(axis=0)\n"
                               "    U, S, Vt = np.linalg.svd(H, full_matrices=False)\n"
                               "    return H @ Vt[:k].T\n")))

# Argument ignored: always projects on 2 directions (the picture's case). Caught by test_pca's hidden shape
# assertion for k = 3 and k = 1.
WRONG.append(WrongAnswer("pca_ignores_k", cell="pca", loses=["test_pca"],
                         code=("def pca_project(H, k=2):\n"
                               "    H_c = H - H.mean(axis=0)\n"
                               "    U, S, Vt = np.linalg.svd(H_c, full_matrices=False)\n"
                               "    return H_c @ Vt[:2].T\n")))

# Structure hidden behind shapes: a ReLU after the last encoder layer ("ReLU after every Linear"), so the code z
# is never negative; shapes and parameter count agree. Caught by test_ae_shapes' hidden "encode must be
# Linear(d, h) -> ReLU -> Linear(h, k)", rebuilt from the student's own layers.
WRONG.append(WrongAnswer("ae_relu_on_latent", cell="autoencoder", loses=["test_ae_shapes"],
                         code=("class Autoencoder(torch.nn.Module):\n"
                               "    def __init__(self, d=784, k=2, hidden=256):\n"
                               "        super().__init__()\n"
                               "        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), "
                               "torch.nn.Linear(hidden, k), torch.nn.ReLU())\n"
                               "        self.decoder = torch.nn.Sequential(torch.nn.Linear(k, hidden), "
                               "torch.nn.ReLU(), torch.nn.Linear(hidden, d), torch.nn.Sigmoid())\n"
                               "    def encode(self, x):\n        return self.encoder(x)\n"
                               "    def decode(self, z):\n        return self.decoder(z)\n"
                               "    def forward(self, x):\n        return self.decode(self.encode(x))\n")))

# Structure hidden behind shapes: the decoder has no ReLU between its two Linear layers. Caught by test_ae_shapes'
# hidden "decode must be Linear(k, h) -> ReLU -> Linear(h, d) -> Sigmoid".
WRONG.append(WrongAnswer("ae_decoder_missing_relu", cell="autoencoder", loses=["test_ae_shapes"],
                         code=("class Autoencoder(torch.nn.Module):\n"
                               "    def __init__(self, d=784, k=2, hidden=256):\n"
                               "        super().__init__()\n"
                               "        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), "
                               "torch.nn.Linear(hidden, k))\n"
                               "        self.decoder = torch.nn.Sequential(torch.nn.Linear(k, hidden), "
                               "torch.nn.Linear(hidden, d), torch.nn.Sigmoid())\n"
                               "    def encode(self, x):\n        return self.encoder(x)\n"
                               "    def decode(self, z):\n        return self.decoder(z)\n"
                               "    def forward(self, x):\n        return self.decode(self.encode(x))\n")))

# Gradient flow: encode() runs under torch.no_grad() (copied from the plotting code), so only the decoder trains;
# the loss still falls by over 40% (it learns the mean digit). Caught by test_ae_trains' hidden "encoder.0.weight
# gets no gradient from the reconstruction loss".
WRONG.append(WrongAnswer("ae_encode_no_grad", cell="autoencoder", loses=["test_ae_trains"],
                         code=("class Autoencoder(torch.nn.Module):\n"
                               "    def __init__(self, d=784, k=2, hidden=256):\n"
                               "        super().__init__()\n"
                               "        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), "
                               "torch.nn.Linear(hidden, k))\n"
                               "        self.decoder = torch.nn.Sequential(torch.nn.Linear(k, hidden), "
                               "torch.nn.ReLU(), torch.nn.Linear(hidden, d), torch.nn.Sigmoid())\n"
                               "    def encode(self, x):\n        with torch.no_grad():\n            return self.encoder(x)\n"
                               "    def decode(self, z):\n        return self.decoder(z)\n"
                               "    def forward(self, x):\n        return self.decode(self.encode(x))\n")))

# Gradient flow: detaches x_hat, so the value is right but nothing upstream can learn. Caught by test_recon_loss'
# hidden "the loss must stay in the autograd graph of x_hat".
WRONG.append(WrongAnswer("recon_detaches_x_hat", cell="recon_loss", loses=["test_recon_loss"],
                         code=("def reconstruction_loss(x, x_hat):\n"
                               "    return ((x - x_hat.detach()) ** 2).sum(dim=1).mean()\n")))

# Gradient flow: returns a Python float (.item()), which prints the right number but cannot be backpropagated.
# Caught by test_recon_loss' hidden "the loss must be a scalar tensor".
WRONG.append(WrongAnswer("recon_returns_float", cell="recon_loss", loses=["test_recon_loss"],
                         code=("def reconstruction_loss(x, x_hat):\n"
                               "    return ((x - x_hat) ** 2).sum(dim=1).mean().item()\n")))

# Structure hidden behind shapes: sums over the batch and averages over the pixels (axes swapped); the visible
# example is 2 x 2, so both orders give 2.5. Caught by test_recon_loss' hidden comparison for shape (7, 13).
WRONG.append(WrongAnswer("recon_axes_swapped", cell="recon_loss", loses=["test_recon_loss"],
                         code=("def reconstruction_loss(x, x_hat):\n"
                               "    return ((x - x_hat) ** 2).sum(dim=0).mean()\n")))

# Structure hidden behind shapes: one linspace per coordinate, written for the 2-D latent space only. Caught by
# test_interpolate's hidden shape assertion for k = 3 and k = 10.
WRONG.append(WrongAnswer("interp_2d_only", cell="interpolate", loses=["test_interpolate"],
                         code=("def interpolate(z0, z1, n_steps):\n"
                               "    xs = torch.linspace(float(z0[0]), float(z1[0]), n_steps)\n"
                               "    ys = torch.linspace(float(z0[1]), float(z1[1]), n_steps)\n"
                               "    return torch.stack([xs, ys], dim=1)\n")))

# Exact values: z0 + t z1 instead of z0 + t (z1 - z0); the visible walk starts at the origin, where both agree.
# Caught by test_interpolate's hidden "the path must start at z0 and end at z1" for random z0.
WRONG.append(WrongAnswer("interp_forgets_minus_z0", cell="interpolate", loses=["test_interpolate"],
                         code=("def interpolate(z0, z1, n_steps):\n"
                               "    t = torch.linspace(0, 1, n_steps, dtype=z0.dtype).unsqueeze(1)\n"
                               "    return z0 + t * z1\n")))

# --- Task 1e, XOR by hand (issue 19) ---
# Wrong function: the weights of OR, which is also positive at (1, 1). Caught by test_xor's visible corner check.
WRONG.append(WrongAnswer("xor_or_gate", cell="xor_weights", loses=["test_xor"], visible=False,
                         code=("def xor_weights():\n"
                               "    return np.array([[1.0, 1.0]]), np.array([0.0]), np.array([[1.0]]), np.array([-0.5])\n")))

# Sign convention swapped: positive where XOR is 0. Caught by test_xor's visible corner check.
WRONG.append(WrongAnswer("xor_sign_flipped", cell="xor_weights", loses=["test_xor"], visible=False,
                         code=("def xor_weights():\n"
                               "    return (np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]),\n"
                               "            np.array([[-1.0, 2.0]]), np.array([0.5]))\n")))

# Shapes: W1 written as (2, m), inputs by rows. Caught by test_xor's visible "W1 should have shape (m, 2)".
WRONG.append(WrongAnswer("xor_w1_transposed", cell="xor_weights", loses=["test_xor"], visible=False,
                         code=("def xor_weights():\n"
                               "    return (np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]), np.array([0.0, -1.0, 0.0]),\n"
                               "            np.array([[1.0, -2.0, 0.0]]), np.array([-0.5]))\n")))

# Exact values at the corners only: right signs at the four corners, but the boundary passes 0.05 from (1, 0) and
# (0, 1). Passes the visible check; caught by test_xor's hidden "inputs within 0.15 of the corner".
WRONG.append(WrongAnswer("xor_scrapes_a_corner", cell="xor_weights", loses=["test_xor"],
                         code=("def xor_weights():\n"
                               "    return (np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]),\n"
                               "            np.array([[1.0, -2.0]]), np.array([-0.95]))\n")))

# --- Part 4, embeddings (issue 19) ---
# Exact values hidden by the example: divides by the lengths of B's rows only; the visible a has length 1.
# Caught by test_cosine's hidden comparison with sklearn for a of length != 1.
WRONG.append(WrongAnswer("cosine_forgets_norm_of_a", cell="cosine", loses=["test_cosine"],
                         code=("def cosine_similarity(a, B):\n"
                               "    return (B @ a) / np.linalg.norm(B, axis=1)\n")))

# Not normalised at all: the dot product. Caught by test_cosine's visible expected values.
WRONG.append(WrongAnswer("cosine_dot_only", cell="cosine", loses=["test_cosine"], visible=False,
                         code=("def cosine_similarity(a, B):\n"
                               "    return B @ a\n")))

# Wrong norm: the whole matrix's (Frobenius) length instead of each row's. Caught by test_cosine's visible values.
WRONG.append(WrongAnswer("cosine_matrix_norm", cell="cosine", loses=["test_cosine"], visible=False,
                         code=("def cosine_similarity(a, B):\n"
                               "    return (B @ a) / (np.linalg.norm(B) * np.linalg.norm(a))\n")))

# Euclidean distance instead of the angle: the visible rows have similar lengths, so the order agrees there.
# Caught by test_nearest's hidden comparison for rows of very different lengths.
WRONG.append(WrongAnswer("nearest_euclidean", cell="nearest", loses=["test_nearest"],
                         code=("def nearest(E, i, k):\n"
                               "    dist = np.linalg.norm(E - E[i], axis=1)\n"
                               "    dist[i] = np.inf\n"
                               "    return np.argsort(dist)[:k]\n")))

# Edge case: drops the first of the sorted list, assuming it is row i; with an exact copy of row i that sorts first,
# row i stays in. Caught by test_nearest's hidden "a copy of row 4 (row 1) is its nearest neighbour".
WRONG.append(WrongAnswer("nearest_drops_first", cell="nearest", loses=["test_nearest"],
                         code=("def nearest(E, i, k):\n"
                               "    order = np.argsort(-cosine_similarity(E[i], E), kind='stable')\n"
                               "    return order[1:k + 1]\n")))

# Keeps row i itself. Caught by test_nearest's visible "leave row i = 0 itself out".
WRONG.append(WrongAnswer("nearest_includes_self", cell="nearest", loses=["test_nearest"], visible=False,
                         code=("def nearest(E, i, k):\n"
                               "    return np.argsort(-cosine_similarity(E[i], E))[:k]\n")))

# Order: least similar first. Caught by test_nearest's visible expected order.
WRONG.append(WrongAnswer("nearest_ascending", cell="nearest", loses=["test_nearest"], visible=False,
                         code=("def nearest(E, i, k):\n"
                               "    cos = cosine_similarity(E[i], E)\n"
                               "    cos[i] = np.inf\n"
                               "    return np.argsort(cos)[:k]\n")))
