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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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
        visible=False,  # the visible check catches it (issue 15 messages)
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

    # ======== issue 15: mistakes that pass the visible checks; only the hidden tests catch them ========
    # --- shift ---------------------------------------------------------------
    # Side effect: `out = X` is a second name, not a copy, so the caller's images are overwritten.
    # Caught by test_shift's hidden "shift(X, dx, dy) changed its input X" (X compared with a copy made first).
    WrongAnswer(
        "shift_writes_into_its_input",
        cell="shift",
        code='''def shift(X, dx, dy=0):
    """Translate images by dx columns and dy rows, filling with zeros."""
    out = X
    out[...] = torch.roll(X, shifts=(dy, dx), dims=(-2, -1))
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, dx:] = 0
    if dy > 0:
        out[..., :dy, :] = 0
    elif dy < 0:
        out[..., dy:, :] = 0
    return out
''',
        loses=["test_shift"],
    ),
    # Boundary: roll, then zero the band that wrapped, but only for dx of either sign and dy > 0.
    # Caught by test_shift's hidden value check at (dx, dy) = (0, -3): the bottom rows keep wrapped pixels.
    WrongAnswer(
        "shift_roll_then_zero_forgets_negative_dy",
        cell="shift",
        code='''def shift(X, dx, dy=0):
    """Translate images by dx columns and dy rows, filling with zeros."""
    out = torch.roll(X, shifts=(dy, dx), dims=(-2, -1))
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, dx:] = 0
    if dy > 0:
        out[..., :dy, :] = 0
    return out
''',
        loses=["test_shift"],
    ),
    # Direction: rows counted upwards, so a positive dy moves the content up (the visible check uses dy = 0).
    # Caught by test_shift's hidden value check at (dx, dy) = (0, 2) against F.pad(X, (dx, -dx, dy, -dy)).
    WrongAnswer(
        "shift_positive_dy_moves_up",
        cell="shift",
        code='''def shift(X, dx, dy=0):
    """Translate images by dx columns and dy rows, filling with zeros."""
    return F.pad(X, (dx, -dx, -dy, dy))
''',
        loses=["test_shift"],
    ),
    # --- parameter formulas --------------------------------------------------
    # Structure: each filter is taken as k x k, forgetting that it spans all C_in input channels
    # (9 + 1 = 10 in the visible case with C_in = 1). Caught by test_params' hidden conv_params(3, 16, 32) = 4640.
    WrongAnswer(
        "conv_params_filter_ignores_input_channels",
        cell="params",
        code='''def conv_params(k, C_in, C_out):
    return k * k * C_out + C_out


def linear_params(d_in, d_out):
    return d_in * d_out + d_out
''',
        loses=["test_params"],
    ),
    # --- conv2d --------------------------------------------------------------
    # Padding structure: F.pad with a 2-tuple pads the last axis (the columns) only.
    # Caught by test_conv2d's hidden shape check for padding 1 and 2 (the rows do not grow).
    WrongAnswer(
        "conv2d_pads_only_the_columns",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    x = F.pad(x, (padding, padding))
    H_out, W_out = x.shape[2] - k + 1, x.shape[3] - k + 1
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
    # Structure: the filters are flattened as (k, k, C_in), but F.unfold orders a patch as (C_in, k, k);
    # identical for one input channel. Caught by test_conv2d's hidden value check with C_in = 3.
    WrongAnswer(
        "conv2d_kernel_flattened_channels_last",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    patches = F.unfold(x, kernel_size=k, padding=padding)           # (N, C_in*k*k, L)
    y = K.permute(0, 2, 3, 1).reshape(C_out, -1) @ patches
    y = y.reshape(N, C_out, H + 2 * padding - k + 1, W + 2 * padding - k + 1)
    if b is not None:
        y = y + b.reshape(1, C_out, 1, 1)
    return y
''',
        loses=["test_conv2d"],
    ),
    # Batch structure: written for one image, x[0]; the result is broadcast to every image of the batch.
    # Caught by test_conv2d's hidden value check with N = 2 and 3.
    WrongAnswer(
        "conv2d_uses_the_first_image_for_the_whole_batch",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    img = F.pad(x, (padding, padding, padding, padding))[0]        # (C_in, H + 2p, W + 2p)
    H_out, W_out = img.shape[1] - k + 1, img.shape[2] - k + 1
    y = torch.zeros(N, C_out, H_out, W_out)
    for o in range(C_out):
        for i in range(H_out):
            for j in range(W_out):
                y[:, o, i, j] = (img[:, i:i + k, j:j + k] * K[o]).sum()
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y
''',
        loses=["test_conv2d"],
    ),
    # Loop structure: the bias is added inside the loop over input channels, so C_in times.
    # Caught by test_conv2d's hidden value check with C_in = 3 and a bias.
    WrongAnswer(
        "conv2d_bias_added_once_per_input_channel",
        cell="conv2d",
        code='''def conv2d(x, K, b=None, padding=0):
    N, C_in, H, W = x.shape
    C_out, _, k, _ = K.shape
    x = F.pad(x, (padding, padding, padding, padding))
    H_out, W_out = x.shape[2] - k + 1, x.shape[3] - k + 1
    y = torch.zeros(N, C_out, H_out, W_out)
    for o in range(C_out):
        for c in range(C_in):
            for i in range(H_out):
                for j in range(W_out):
                    y[:, o, i, j] += (x[:, c, i:i + k, j:j + k] * K[o, c]).sum(dim=(-1, -2))
            if b is not None:
                y[:, o] += b[o]
    return y
''',
        loses=["test_conv2d"],
    ),
    # --- normalised adjacency ------------------------------------------------
    # Side effect: the self-loops are added in place, so the caller's graph A gains a diagonal.
    # Caught by test_adjacency's hidden "normalized_adjacency must not modify A".
    WrongAnswer(
        "adjacency_adds_self_loops_in_place",
        cell="adjacency",
        code='''def normalized_adjacency(A):
    A += torch.eye(A.shape[0])
    return A / A.sum(dim=1, keepdim=True)
''',
        loses=["test_adjacency"],
    ),
    # --- message passing -----------------------------------------------------
    # Structure: W_self and W_neigh swapped (same shapes, still permutation equivariant, zero states give b).
    # Caught by test_message_passing's hidden per-node reference h_v W_self + (sum_u A_hat[v,u] h_u) W_neigh + b.
    WrongAnswer(
        "message_passing_swaps_W_self_and_W_neigh",
        cell="message_passing",
        code='''def message_passing(H, A_hat, W_self, W_neigh, b):
    return H @ W_neigh + (A_hat @ H) @ W_self + b
''',
        loses=["test_message_passing"],
    ),
    # --- self-attention ------------------------------------------------------
    # Numerical stability: softmax written as exp / sum without subtracting the row maximum.
    # Caught by test_attention's hidden float32 case at scores of about +-924 (exp overflows: inf / inf = nan).
    WrongAnswer(
        "attention_softmax_by_hand_without_max_shift",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    S = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])
    E = torch.exp(S)
    A = E / E.sum(dim=-1, keepdim=True)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    # Numerical stability: shifted by the maximum of the whole score matrix, not of each row; a row whose own
    # maximum is far below it underflows to 0 / 0. Caught by the same hidden float32 case (row of e1: nan).
    WrongAnswer(
        "attention_softmax_shifted_by_the_global_max",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    S = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])
    E = torch.exp(S - S.max())
    A = E / E.sum(dim=-1, keepdim=True)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    # Softmax over the wrong axis: dim=1 is the key axis for one sequence (n, n) but the query axis for a
    # batch (B, n, n). Caught by test_attention's hidden "rows of A must sum to 1" for X of shape (2, 4, 16).
    WrongAnswer(
        "attention_softmax_dim_1",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    A = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1]), dim=1)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    # Scaling: d_k read from axis 1, which is the sequence length once there is a batch axis.
    # Caught by test_attention's hidden comparison of A with softmax(Q K^T / sqrt(d_k)) for X of shape (2, 4, 16).
    WrongAnswer(
        "attention_d_k_from_axis_1",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    d_k = K.shape[1]
    A = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    # Scaling: divided by sqrt(d_v), the width of the values (equal to d_k in the visible check).
    # Caught by test_attention's hidden comparison of A for d_k = 3, d_v = 5.
    WrongAnswer(
        "attention_scaled_by_sqrt_d_v",
        cell="attention",
        code='''def self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    A = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(V.shape[-1]), dim=-1)
    return A @ V, A
''',
        loses=["test_attention"],
    ),
    # --- positional encoding -------------------------------------------------
    # Formula: p multiplied by 10000^(2i/d) instead of divided (the same for i = 0, which the visible check sees).
    # Caught by test_positional's hidden comparison with sin(p / 10000^(2i/d)) for d = 16.
    WrongAnswer(
        "positional_multiplies_by_the_frequency_factor",
        cell="positional",
        code='''def positional_encoding(n, d):
    p = torch.arange(n, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d, 2, dtype=torch.float32)
    angle = p * 10000 ** (two_i / d)
    PE = torch.zeros(n, d)
    PE[:, 0::2] = torch.sin(angle)
    PE[:, 1::2] = torch.cos(angle)
    return PE
''',
        loses=["test_positional"],
    ),
    # Formula: the index already runs over the even columns 0, 2, 4, ... and is doubled again (10000^(4i/d)).
    # Caught by test_positional's hidden comparison with sin(p / 10000^(2i/d)) for d = 16.
    WrongAnswer(
        "positional_factor_2_counted_twice",
        cell="positional",
        code='''def positional_encoding(n, d):
    p = torch.arange(n, dtype=torch.float32)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float32)
    angle = p / 10000 ** (2 * i / d)
    PE = torch.zeros(n, d)
    PE[:, 0::2] = torch.sin(angle)
    PE[:, 1::2] = torch.cos(angle)
    return PE
''',
        loses=["test_positional"],
    ),
    # --- caught by the visible checks (they teach; kept to prove it) ---------
    # The example: a missing bias. The visible check with all node states zero now catches it.
    WrongAnswer(
        "message_passing_forgets_the_bias",
        cell="message_passing",
        code='''def message_passing(H, A_hat, W_self, W_neigh, b):
    return H @ W_self + (A_hat @ H) @ W_neigh
''',
        loses=["test_message_passing"],
        visible=False,
    ),
    # The ReLU belongs to the caller; applied here, H_pre loses its negative part (visible zero-state check).
    WrongAnswer(
        "message_passing_applies_the_relu",
        cell="message_passing",
        code='''def message_passing(H, A_hat, W_self, W_neigh, b):
    return torch.relu(H @ W_self + (A_hat @ H) @ W_neigh + b)
''',
        loses=["test_message_passing"],
        visible=False,
    ),
]
