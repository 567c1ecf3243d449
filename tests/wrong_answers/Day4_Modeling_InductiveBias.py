"""Realistic mistakes for the Day 4 lab; each must lose points on the listed test cells."""
from course.checks.submissions import WrongAnswer

WRONG = [
    # --- shift ---------------------------------------------------------------
    WrongAnswer(
        "shift_with_torch_roll_wraps_around",
        cell="shift",
        code='''def shift(X, dx, dy=0):
    """Translate images by dx columns and dy rows."""
    return torch.roll(X, shifts=(dy, dx), dims=(-2, -1))
''',
        loses=["test_shift"],
    ),
    WrongAnswer(
        "shift_only_handles_positive_offsets",
        cell="shift",
        code='''def shift(X, dx, dy=0):
    """Translate images by dx columns and dy rows, filling with zeros."""
    H, W = X.shape[-2:]
    out = torch.zeros_like(X)
    out[..., dy:, dx:] = X[..., :H - dy, :W - dx]
    return out
''',
        loses=["test_shift"],
    ),
    WrongAnswer(
        "shift_in_the_opposite_direction",
        cell="shift",
        code='''def shift(X, dx, dy=0):
    """Translate images by dx columns and dy rows, filling with zeros."""
    return torch.nn.functional.pad(X, (-dx, dx, -dy, dy))
''',
        loses=["test_shift"],
    ),
    # --- parameter formulas --------------------------------------------------
    WrongAnswer(
        "conv_params_without_bias",
        cell="params",
        code='''def conv_params(k, C_in, C_out):
    return k * k * C_in * C_out


def linear_params(d_in, d_out):
    return d_in * d_out + d_out
''',
        loses=["test_params"],
    ),
    WrongAnswer(
        "linear_params_without_bias",
        cell="params",
        code='''def conv_params(k, C_in, C_out):
    return k * k * C_in * C_out + C_out


def linear_params(d_in, d_out):
    return d_in * d_out
''',
        loses=["test_params"],
    ),
    WrongAnswer(
        "conv_params_one_bias_per_input_channel",
        cell="params",
        code='''def conv_params(k, C_in, C_out):
    return k * k * C_in * C_out + C_in


def linear_params(d_in, d_out):
    return d_in * d_out + d_out
''',
        loses=["test_params"],
    ),
    # --- conv2d --------------------------------------------------------------
    WrongAnswer(
        "conv2d_flips_the_kernel",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    """A true convolution: the kernel is flipped (not what PyTorch computes)."""
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    Kf = K.flip(-1, -2)
    patches = F.unfold(x, kernel_size=k, padding=padding)
    y = (Kf.reshape(C_out, -1) @ patches).reshape(N, C_out, H + 2 * padding - k + 1, W + 2 * padding - k + 1)
    if b is not None:
        y = y + b.reshape(1, C_out, 1, 1)
    return y
''',
        loses=["test_conv2d"],
    ),
    WrongAnswer(
        "conv2d_forgets_the_bias",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    x = F.pad(x, (padding, padding, padding, padding))
    H_out, W_out = x.shape[2] - k + 1, x.shape[3] - k + 1
    y = torch.zeros(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            patch = x[:, :, i:i + k, j:j + k]                     # (N, C_in, k, k)
            y[:, :, i, j] = torch.einsum("ncab,ocab->no", patch, K)
    return y
''',
        loses=["test_conv2d"],
    ),
    WrongAnswer(
        "conv2d_ignores_padding",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    H_out, W_out = H - k + 1, W - k + 1
    y = torch.zeros(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            patch = x[:, :, i:i + k, j:j + k]
            y[:, :, i, j] = torch.einsum("ncab,ocab->no", patch, K)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y
''',
        loses=["test_conv2d"],
    ),
    WrongAnswer(
        "conv2d_single_channel_only",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    """Works for one input channel: only channel 0 is used."""
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    x = F.pad(x, (padding, padding, padding, padding))
    H_out, W_out = x.shape[2] - k + 1, x.shape[3] - k + 1
    y = torch.zeros(N, C_out, H_out, W_out)
    for o in range(C_out):
        for i in range(H_out):
            for j in range(W_out):
                y[:, o, i, j] = (x[:, 0, i:i + k, j:j + k] * K[o, 0]).sum(dim=(-1, -2))
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y
''',
        loses=["test_conv2d"],
    ),
    # --- normalised adjacency ------------------------------------------------
    WrongAnswer(
        "adjacency_without_self_loops",
        cell="adjacency",
        code='''def normalized_adjacency(A):
    return A / A.sum(dim=1, keepdim=True)
''',
        loses=["test_adjacency"],
    ),
    WrongAnswer(
        "adjacency_normalised_on_the_wrong_side",
        cell="adjacency",
        code='''def normalized_adjacency(A):
    A_tilde = A + torch.eye(A.shape[0])
    D_inv = torch.diag(1.0 / A_tilde.sum(dim=1))
    return A_tilde @ D_inv
''',
        loses=["test_adjacency"],
    ),
    WrongAnswer(
        "adjacency_symmetric_normalisation",
        cell="adjacency",
        code='''def normalized_adjacency(A):
    A_tilde = A + torch.eye(A.shape[0])
    d = A_tilde.sum(dim=1) ** -0.5
    return d[:, None] * A_tilde * d[None, :]
''',
        loses=["test_adjacency"],
    ),
    # --- message passing -----------------------------------------------------
    WrongAnswer(
        "message_passing_forgets_the_self_term",
        cell="message_passing",
        code='''def message_passing(H, A_hat, W_self, W_neigh, b):
    return (A_hat @ H) @ W_neigh + b
''',
        loses=["test_message_passing"],
    ),
    WrongAnswer(
        "message_passing_with_transposed_adjacency",
        cell="message_passing",
        code='''def message_passing(H, A_hat, W_self, W_neigh, b):
    return H @ W_self + (A_hat.T @ H) @ W_neigh + b
''',
        loses=["test_message_passing"],
    ),
    WrongAnswer(
        "message_passing_sums_instead_of_using_A_hat",
        cell="message_passing",
        code='''def message_passing(H, A_hat, W_self, W_neigh, b):
    A = (A_hat > 0).float()
    return H @ W_self + (A @ H) @ W_neigh + b
''',
        loses=["test_message_passing"],
    ),
    # --- self-attention ------------------------------------------------------
    WrongAnswer(
        "attention_without_sqrt_dk",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    A = torch.softmax(Q @ K.transpose(-2, -1), dim=-1)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    WrongAnswer(
        "attention_softmax_over_queries",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    A = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1]), dim=-2)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    WrongAnswer(
        "attention_scaled_by_model_width",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    A = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(X.shape[-1]), dim=-1)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    WrongAnswer(
        "attention_2d_only_transpose",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    A = torch.softmax(Q @ K.T / math.sqrt(Q.shape[-1]), dim=-1)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    # --- positional encoding -------------------------------------------------
    WrongAnswer(
        "positional_sin_and_cos_swapped",
        cell="positional",
        code='''def positional_encoding(n, d):
    p = torch.arange(n, dtype=torch.float32)[:, None]
    angle = p / 10000 ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
    PE = torch.zeros(n, d)
    PE[:, 0::2] = torch.cos(angle)
    PE[:, 1::2] = torch.sin(angle)
    return PE
''',
        loses=["test_positional"],
    ),
    WrongAnswer(
        "positional_frequency_without_the_factor_2",
        cell="positional",
        code='''def positional_encoding(n, d):
    p = torch.arange(n, dtype=torch.float32)[:, None]
    i = torch.arange(d // 2, dtype=torch.float32)
    angle = p / 10000 ** (i / d)
    PE = torch.zeros(n, d)
    PE[:, 0::2] = torch.sin(angle)
    PE[:, 1::2] = torch.cos(angle)
    return PE
''',
        loses=["test_positional"],
    ),
    WrongAnswer(
        "positional_column_index_in_exponent",
        cell="positional",
        code='''def positional_encoding(n, d):
    p = torch.arange(n, dtype=torch.float32)[:, None]
    j = torch.arange(d, dtype=torch.float32)
    angle = p / 10000 ** (j / d)
    PE = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return PE
''',
        loses=["test_positional"],
    ),
    WrongAnswer(
        "positional_sin_block_then_cos_block",
        cell="positional",
        code='''def positional_encoding(n, d):
    p = torch.arange(n, dtype=torch.float32)[:, None]
    angle = p / 10000 ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
''',
        loses=["test_positional"],
    ),
    # --- matching ------------------------------------------------------------
    WrongAnswer(
        "matching_spectrogram_as_sequence_and_segmentation_as_mlp",
        cell="matching",
        code='''ANSWERS["xray"] = "CNN"
ANSWERS["keywords"] = "RNN"
ANSWERS["translation"] = "Transformer"
ANSWERS["flood_map"] = "MLP"
ANSWERS["autocomplete"] = "RNN"
ANSWERS["toxicity"] = "GNN"
ANSWERS["fraud"] = "GNN"
ANSWERS["forces"] = "Equivariant GNN"
ANSWERS["churn"] = "MLP"
ANSWERS["credit"] = "MLP"
''',
        loses=["test_matching_grid_sequence"],
    ),
    WrongAnswer(
        "matching_tables_as_transformer_and_3d_as_plain_gnn",
        cell="matching",
        code='''ANSWERS["xray"] = "CNN"
ANSWERS["keywords"] = "CNN"
ANSWERS["translation"] = "Transformer"
ANSWERS["flood_map"] = "CNN"
ANSWERS["autocomplete"] = "Transformer"
ANSWERS["toxicity"] = "GNN"
ANSWERS["fraud"] = "MLP"
ANSWERS["forces"] = "GNN"
ANSWERS["churn"] = "MLP"
ANSWERS["credit"] = "Transformer"
''',
        loses=["test_matching_graph_tabular"],
    ),
    WrongAnswer(
        "matching_everything_is_a_transformer",
        cell="matching",
        code='''for key in PROBLEMS:
    ANSWERS[key] = "Transformer"
''',
        loses=["test_matching_grid_sequence", "test_matching_graph_tabular"],
    ),
]
