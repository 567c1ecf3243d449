"""Realistic wrong answers for Day 2. Each must lose points on the cells it names.

`loses` names only the test cells that judge the broken answer: while grading, a later test cell runs with the
reference solutions of earlier tasks, so a broken `softmax` no longer costs points in `test_grad_logits`.

WRONG holds the mistakes the issue names plus a few more; the test suite grades each one.
EXTRA holds further realistic mistakes, checked the same way while authoring but left out of
the suite to keep its run time down (each entry costs one autograde run).
"""
from course.checks.submissions import WrongAnswer

WRONG = [
    WrongAnswer("grad_f_hardcoded", cell="grad_f", loses=["test_grad_f"],
                code="def grad_f(x):\n    return np.array([2.0, 6.0])\n",
                visible=False),
    WrongAnswer("numerical_grad_forward_difference", cell="numerical_grad", loses=["test_numerical_grad"],
                code=("def numerical_grad(fun, x, eps=1e-5):\n"
                      "    x = np.array(x, dtype=float)\n"
                      "    grad = np.zeros_like(x)\n"
                      "    f0 = fun(x)\n"
                      "    for i in np.ndindex(x.shape):\n"
                      "        old = x[i]\n"
                      "        x[i] = old + eps\n"
                      "        grad[i] = (fun(x) - f0) / eps\n"
                      "        x[i] = old\n"
                      "    return grad\n"),
                visible=False),
    WrongAnswer("softmax_no_max_subtraction", cell="softmax", loses=["test_softmax"],
                code=("def softmax(logits):\n"
                      "    e = np.exp(logits)\n"
                      "    return e / e.sum(axis=1, keepdims=True)\n"),
                visible=False),
    # log of a softmax that underflows to 0 for a logit of -1000: inf
    WrongAnswer("cross_entropy_log_of_softmax", cell="cross_entropy", loses=["test_cross_entropy"],
                code=("def cross_entropy(logits, y):\n"
                      "    p = softmax(logits)\n"
                      "    return float(-np.log(p[np.arange(len(y)), y]).mean())\n"),
                visible=False),
    WrongAnswer("cross_entropy_summed", cell="cross_entropy", loses=["test_cross_entropy"],
                code=("def cross_entropy(logits, y):\n"
                      "    z = logits - logits.max(axis=1, keepdims=True)\n"
                      "    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
                      "    return float(-log_p[np.arange(len(y)), y].sum())\n"),
                visible=False),
    WrongAnswer("grad_logits_summed_not_mean", cell="grad_logits", loses=["test_grad_logits"],
                code=("def grad_logits(logits, y):\n"
                      "    d = softmax(logits)\n"
                      "    d[np.arange(len(y)), y] -= 1\n"
                      "    return d\n"),
                visible=False),
    WrongAnswer("affine_backward_bias_not_reduced", cell="affine_backward",
                loses=["test_affine_backward"],
                code=("def affine_backward(d_out, a, W):\n"
                      "    return d_out.T @ a, d_out, d_out @ W\n"),
                visible=False),
    WrongAnswer("affine_backward_dW_transposed", cell="affine_backward",
                loses=["test_affine_backward"],
                code=("def affine_backward(d_out, a, W):\n"
                      "    return a.T @ d_out, d_out.sum(axis=0), d_out @ W\n"),
                visible=False),
    WrongAnswer("relu_backward_mask_ge", cell="relu_backward", loses=["test_relu_backward"],
                code="def relu_backward(d_h, h_pre):\n    return d_h * (h_pre >= 0)\n",
                visible=False),
    WrongAnswer("relu_backward_mask_from_gradient", cell="relu_backward", loses=["test_relu_backward"],
                code="def relu_backward(d_h, h_pre):\n    return d_h * (d_h > 0)\n",
                visible=False),
    WrongAnswer("sgd_step_adds_gradient", cell="sgd_step", loses=["test_sgd_step"],
                code="def sgd_step(params, grads, lr):\n    return {n: params[n] + lr * grads[n] for n in params}\n",
                visible=False),
    WrongAnswer("adam_no_bias_correction", cell="adam_step", loses=["test_adam_step"],
                code=("def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                      "    m = beta1 * m + (1 - beta1) * grad\n"
                      "    v = beta2 * v + (1 - beta2) * grad ** 2\n"
                      "    return theta - lr * m / (np.sqrt(v) + eps), m, v\n"),
                visible=False),
    WrongAnswer("adam_eps_inside_sqrt", cell="adam_step", loses=["test_adam_step"],
                code=("def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                      "    m = beta1 * m + (1 - beta1) * grad\n"
                      "    v = beta2 * v + (1 - beta2) * grad ** 2\n"
                      "    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)\n"
                      "    return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v\n")),
    # returns the corrected m̂, v̂ as the new state: right on step 1, wrong from step 2
    WrongAnswer("adam_returns_corrected_state", cell="adam_step", loses=["test_adam_step"],
                code=("def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                      "    m = (beta1 * m + (1 - beta1) * grad) / (1 - beta1 ** t)\n"
                      "    v = (beta2 * v + (1 - beta2) * grad ** 2) / (1 - beta2 ** t)\n"
                      "    return theta - lr * m / (np.sqrt(v) + eps), m, v\n"),
                visible=False),
    WrongAnswer("diagnose_swaps_over_and_underfitting", cell="diagnose", loses=["test_diagnose"], visible=False,
                code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        return "overfitting"\n    if val[-1] > 1.2 * val.min():\n        return "underfitting"\n    return "healthy"\n'),
    # nan compares False with everything, so a nan curve slips through as healthy
    WrongAnswer("diagnose_ignores_nan", cell="diagnose", loses=["test_diagnose"],
                code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if train[-1] > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        k = max(1, len(train) // 4)\n        return "too slow" if train[-1] < 0.9 * train[-1 - k] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'),
    # ---- new for issue 15: each passes the visible check of the cells it names (prints the pass line) ----
    # side effects: `g = x` does not copy, so the caller's point is overwritten with the gradient (the quiver plot
    # below then draws arrows from the wrong places). Caught by test_grad_f's hidden "must leave the caller's x as it was".
    WrongAnswer("grad_f_aliases_input", cell="grad_f", loses=["test_grad_f"],
                code='''def grad_f(x):
    g = x
    g[0] = 2 * x[0]
    g[1] = 6 * x[1]
    return g
'''),
    # structure hidden behind shapes: `range(len(x))` nudges whole rows of a 2-D x; right for the visible 1-D
    # points only. Caught by test_numerical_grad's hidden 3x4 check "3z^2 + eps^2, entry by entry".
    WrongAnswer("numerical_grad_loops_over_rows", cell="numerical_grad", loses=["test_numerical_grad"],
                code='''def numerical_grad(fun, x, eps=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in range(len(x)):
        old = x[i].copy()
        x[i] = old + eps
        f_plus = fun(x)
        x[i] = old - eps
        f_minus = fun(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad
'''),
    # side effects between coordinates: works on a copy but never puts a nudged entry back, so later entries are
    # differenced at a shifted point; invisible for the separable f and z^3. Caught by test_numerical_grad's hidden
    # non-separable function "agree with autograd to about 1e-8 (put each nudged entry back)".
    WrongAnswer("numerical_grad_never_restores_copy", cell="numerical_grad", loses=["test_numerical_grad"],
                code='''def numerical_grad(fun, x, eps=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = fun(x)
        x[i] = old - eps
        f_minus = fun(x)
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad
'''),
    # side effects: the max is subtracted from the caller's logits in place. Caught by test_softmax's hidden
    # "must leave the caller's logits as they were".
    WrongAnswer("softmax_shifts_caller_logits", cell="softmax", loses=["test_softmax"],
                code='''def softmax(logits):
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)
'''),
    # numerical stability: one global max for the whole batch; rows far below it underflow to 0/0. Caught by
    # test_softmax's hidden rows [1000, 1000], [-1000, -1000] and the float32 rows of +-30..100.
    WrongAnswer("softmax_global_max", cell="softmax", loses=["test_softmax"],
                code='''def softmax(logits):
    e = np.exp(logits - logits.max())
    return e / e.sum(axis=1, keepdims=True)
'''),
    # side effects: log-sum-exp done right, but on the caller's logits in place. Caught by test_cross_entropy's
    # hidden "must leave the caller's logits and labels as they were".
    WrongAnswer("cross_entropy_shifts_caller_logits", cell="cross_entropy", loses=["test_cross_entropy"],
                code='''def cross_entropy(logits, y):
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())
'''),
    # numerical stability: log-sum-exp shifted by the batch's max, not each row's; fine while every row has a logit
    # near the top (both visible cases). Caught by test_cross_entropy's hidden float32 rows of +-30..100 (and scale 1000).
    WrongAnswer("cross_entropy_global_max", cell="cross_entropy", loses=["test_cross_entropy"],
                code='''def cross_entropy(logits, y):
    z = logits - logits.max()
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())
'''),
    # structure hidden by symmetric cases: log_p[:, y] averages a (B, B) block, which equals the right mean for
    # uniform logits and for the visible [1000, -1000] pair. Caught by test_cross_entropy's hidden random batches vs F.cross_entropy.
    WrongAnswer("cross_entropy_indexes_columns", cell="cross_entropy", loses=["test_cross_entropy"],
                code='''def cross_entropy(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[:, y].mean())
'''),
    # numerical stability: its own unshifted softmax instead of the stable one. Caught by test_grad_logits's hidden
    # "must stay finite for logits of size 1000" and the float32 +-100 case (exp(100) overflows float32).
    WrongAnswer("grad_logits_unshifted_exp", cell="grad_logits", loses=["test_grad_logits"],
                code='''def grad_logits(logits, y):
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)
'''),
    # structure hidden behind shapes: db averaged over the batch (the 1/B is already in d_out); shapes right and
    # equal to the sum for the visible one-example case. Caught by test_affine_backward's hidden "db differs from autograd".
    WrongAnswer("affine_backward_db_mean", cell="affine_backward", loses=["test_affine_backward"],
                code='''def affine_backward(d_out, a, W):
    return d_out.T @ a, d_out.mean(axis=0), d_out @ W
'''),
    # side effects: zeroes the caller's d_h in place (the CS231n "dx = dout" without .copy()). Caught by
    # test_relu_backward's hidden "must leave d_h and h_pre as they were".
    WrongAnswer("relu_backward_zeroes_caller_grad", cell="relu_backward", loses=["test_relu_backward"],
                code='''def relu_backward(d_h, h_pre):
    d_h[h_pre <= 0] = 0
    return d_h
'''),
    # exact boundaries: the ReLU mask written inline as h_pre >= 0 lets gradient through where h_pre is exactly 0;
    # the visible batch has no exact zeros. Caught by test_backward's hidden all-zero input rows with b1 = 0.
    WrongAnswer("backward_inline_mask_ge", cell="backward", loses=["test_backward"],
                code='''def backward(x, y, W1, b1, W2, b2):
    h_pre, h, logits = forward(x, W1, b1, W2, b2)
    d_logits = grad_logits(logits, y)
    dW2, db2, d_h = affine_backward(d_logits, h, W2)
    dW1, db1, _ = affine_backward(d_h * (h_pre >= 0), x, W1)
    return cross_entropy(logits, y), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
'''),
    # side effects: updates the caller's arrays in place and returns the same dict (params0 would then be SGD's
    # trained weights when the Adam run starts). Caught by test_sgd_step's hidden "leave the caller's params as they were".
    WrongAnswer("sgd_step_in_place", cell="sgd_step", loses=["test_sgd_step"],
                code='''def sgd_step(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]
    return params
'''),
    # training loop: no shuffling at all; the toy blobs still learn. Caught by test_train_sgd's hidden 3-epoch
    # mini-batch run against the documented loop ("the mini-batch losses differ from the documented loop").
    WrongAnswer("train_sgd_no_shuffle", cell="train_sgd", loses=["test_train_sgd"],
                code='''def train_sgd(params, X, y, lr=0.1, epochs=1, batch_size=128, seed=0):
    losses = []
    for epoch in range(epochs):
        for start in range(0, len(X), batch_size):
            batch = np.arange(start, min(start + batch_size, len(X)))
            loss, grads = backward(X[batch], y[batch], **params)
            params = sgd_step(params, grads, lr)
            losses.append(loss)
    return params, losses
'''),
    # training loop: the generator is re-made inside the epoch loop, so every epoch repeats the same order.
    # Caught by test_train_sgd's hidden 3-epoch mini-batch run against the documented loop.
    WrongAnswer("train_sgd_same_order_every_epoch", cell="train_sgd", loses=["test_train_sgd"],
                code='''def train_sgd(params, X, y, lr=0.1, epochs=1, batch_size=128, seed=0):
    losses = []
    for epoch in range(epochs):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = backward(X[batch], y[batch], **params)
            params = sgd_step(params, grads, lr)
            losses.append(loss)
    return params, losses
'''),
    # training loop: the global NumPy RNG instead of the given seed (runs are not reproducible from `seed`).
    # Caught by test_train_sgd's hidden 3-epoch mini-batch run against the documented loop.
    WrongAnswer("train_sgd_global_rng", cell="train_sgd", loses=["test_train_sgd"],
                code='''def train_sgd(params, X, y, lr=0.1, epochs=1, batch_size=128, seed=0):
    losses = []
    for epoch in range(epochs):
        order = np.random.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = backward(X[batch], y[batch], **params)
            params = sgd_step(params, grads, lr)
            losses.append(loss)
    return params, losses
'''),
    # side effects: the update written inline, in place, on the caller's arrays. Caught by test_train_sgd's hidden
    # "must leave the caller's params as they were".
    WrongAnswer("train_sgd_updates_caller_params", cell="train_sgd", loses=["test_train_sgd"],
                code='''def train_sgd(params, X, y, lr=0.1, epochs=1, batch_size=128, seed=0):
    rng = np.random.default_rng(seed)
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = backward(X[batch], y[batch], **params)
            for name in params:
                params[name] -= lr * grads[name]
            losses.append(loss)
    return params, losses
'''),
    # optimizer state / side effects: m, v and theta updated in place (the caller's arrays change, so the path plot
    # starts torch's Adam from Adam's end point). Caught by test_adam_step's hidden "leave theta, grad, m, v as they were".
    WrongAnswer("adam_updates_state_in_place", cell="adam_step", loses=["test_adam_step"],
                code='''def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    theta -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, m, v
'''),
    # optimizer (bias correction folded into the step size, the paper's "efficient" form): eps is then added to the
    # uncorrected sqrt(v), a different update once eps matters (not at the visible eps=1e-8). Caught by test_adam_step's
    # hidden 300-step run with eps=1e-6 ("must follow torch.optim.Adam to 1e-6") and the eps=1e-3 run.
    WrongAnswer("adam_bias_correction_in_step_size", cell="adam_step", loses=["test_adam_step"],
                code='''def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    step = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return theta - step * m / (np.sqrt(v) + eps), m, v
'''),
    # curves that go back up: any rise of the training loss counts as diverging; every visible curve is monotone.
    # Caught by test_diagnose's hidden noisy curve that ends low ("healthy, not diverging").
    WrongAnswer("diagnose_any_rise_is_diverging", cell="diagnose", loses=["test_diagnose"],
                code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or np.any(np.diff(train) > 0):\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        k = max(1, len(train) // 4)\n        return "too slow" if train[-1] < 0.9 * train[-1 - k] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'),
    # curves that go back up: rule 2 reads the lowest training loss instead of the last one. Caught by
    # test_diagnose's hidden curve that dips to 0.2 and climbs back to 0.6 ("rule 2 reads the last value").
    WrongAnswer("diagnose_underfitting_reads_min", cell="diagnose", loses=["test_diagnose"],
                code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n        return "diverging"\n    if train.min() > 0.2 * train[0]:\n        k = max(1, len(train) // 4)\n        return "too slow" if train[-1] < 0.9 * train[-1 - k] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'),
]

EXTRA = [
    WrongAnswer("grad_f_forgot_factor_3", cell="grad_f", loses=["test_grad_f"],
                code="def grad_f(x):\n    return np.array([2 * x[0], 2 * x[1]])\n"),
    # nudges the caller's array and never puts the entry back
    WrongAnswer("numerical_grad_no_restore", cell="numerical_grad", loses=["test_numerical_grad"],
                code=("def numerical_grad(fun, x, eps=1e-5):\n"
                      "    grad = np.zeros_like(x, dtype=float)\n"
                      "    for i in np.ndindex(x.shape):\n"
                      "        x[i] += eps\n"
                      "        f_plus = fun(x)\n"
                      "        x[i] -= 2 * eps\n"
                      "        f_minus = fun(x)\n"
                      "        grad[i] = (f_plus - f_minus) / (2 * eps)\n"
                      "    return grad\n")),
    WrongAnswer("softmax_wrong_axis", cell="softmax", loses=["test_softmax"],
                code=("def softmax(logits):\n"
                      "    z = logits - logits.max(axis=0, keepdims=True)\n"
                      "    e = np.exp(z)\n"
                      "    return e / e.sum(axis=0, keepdims=True)\n")),
    WrongAnswer("cross_entropy_no_max_subtraction", cell="cross_entropy", loses=["test_cross_entropy"],
                code=("def cross_entropy(logits, y):\n"
                      "    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))\n"
                      "    return float(-log_p[np.arange(len(y)), y].mean())\n")),
    # the transpose on the wrong factor: W.T has shape (n_in, n_out)
    WrongAnswer("affine_backward_d_a_uses_W_transposed", cell="affine_backward",
                loses=["test_affine_backward"],
                code=("def affine_backward(d_out, a, W):\n"
                      "    return d_out.T @ a, d_out.sum(axis=0), d_out @ W.T\n")),
    WrongAnswer("backward_forgets_relu", cell="backward", loses=["test_backward"],
                code=("def backward(x, y, W1, b1, W2, b2):\n"
                      "    h_pre, h, logits = forward(x, W1, b1, W2, b2)\n"
                      "    d_logits = grad_logits(logits, y)\n"
                      "    dW2, db2, d_h = affine_backward(d_logits, h, W2)\n"
                      "    dW1, db1, _ = affine_backward(d_h, x, W1)\n"
                      "    return cross_entropy(logits, y), {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}\n")),
    # the mask taken from h (after the ReLU) with >= : always 1, no mask at all
    WrongAnswer("backward_mask_from_h_ge", cell="backward", loses=["test_backward"],
                code=("def backward(x, y, W1, b1, W2, b2):\n"
                      "    h_pre, h, logits = forward(x, W1, b1, W2, b2)\n"
                      "    d_logits = grad_logits(logits, y)\n"
                      "    dW2, db2, d_h = affine_backward(d_logits, h, W2)\n"
                      "    dW1, db1, _ = affine_backward(d_h * (h >= 0), x, W1)\n"
                      "    return cross_entropy(logits, y), {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}\n")),
    WrongAnswer("train_sgd_one_step_per_epoch", cell="train_sgd", loses=["test_train_sgd"],
                code=("def train_sgd(params, X, y, lr=0.1, epochs=1, batch_size=128, seed=0):\n"
                      "    rng = np.random.default_rng(seed)\n"
                      "    losses = []\n"
                      "    for epoch in range(epochs):\n"
                      "        batch = rng.permutation(len(X))[:batch_size]\n"
                      "        loss, grads = backward(X[batch], y[batch], **params)\n"
                      "        params = sgd_step(params, grads, lr)\n"
                      "        losses.append(loss)\n"
                      "    return params, losses\n")),
    # drops the last, smaller batch
    WrongAnswer("train_sgd_drops_last_batch", cell="train_sgd", loses=["test_train_sgd"],
                code=("def train_sgd(params, X, y, lr=0.1, epochs=1, batch_size=128, seed=0):\n"
                      "    rng = np.random.default_rng(seed)\n"
                      "    losses = []\n"
                      "    for epoch in range(epochs):\n"
                      "        order = rng.permutation(len(X))\n"
                      "        for start in range(0, len(X) - batch_size + 1, batch_size):\n"
                      "            batch = order[start:start + batch_size]\n"
                      "            loss, grads = backward(X[batch], y[batch], **params)\n"
                      "            params = sgd_step(params, grads, lr)\n"
                      "            losses.append(loss)\n"
                      "    return params, losses\n")),
    # corrects only the first moment
    WrongAnswer("adam_bias_correction_on_m_only", cell="adam_step", loses=["test_adam_step"],
                code=("def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                      "    m = beta1 * m + (1 - beta1) * grad\n"
                      "    v = beta2 * v + (1 - beta2) * grad ** 2\n"
                      "    return theta - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v) + eps), m, v\n")),
    # the old rule: any spike above the first loss is diverging, even one the run recovers from. Caught by
    # test_diagnose's hidden spike that ends low ("rule 1 reads the last value").
    WrongAnswer("diagnose_spike_is_diverging", cell="diagnose", loses=["test_diagnose"],
                code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train.max() > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        k = max(1, len(train) // 4)\n        return "too slow" if train[-1] < 0.9 * train[-1 - k] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'),
]

# --- the too-slow reading (issue 19) ---
# No "too slow": every high curve is underfitting (the old rules). Caught by test_diagnose's visible too-slow case.
WRONG.append(WrongAnswer("diagnose_no_too_slow", cell="diagnose", loses=["test_diagnose"], visible=False,
                         code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        return "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'))

# "Still falling" read over the last step only: a slow fall with a last-step wiggle is called a plateau. Caught by
# test_diagnose's visible too-slow case (its last step falls 6%) and the hidden "over the last quarter".
WRONG.append(WrongAnswer("diagnose_slope_last_step", cell="diagnose", loses=["test_diagnose"], visible=False,
                         code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        return "too slow" if train[-1] < 0.9 * train[-2] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'))

# "Still falling" read over the whole run: any curve that fell at all is too slow, a plateau included. Caught by
# test_diagnose's visible underfitting case, which fell from 2.3 to 1.8 before it flattened.
WRONG.append(WrongAnswer("diagnose_slope_whole_run", cell="diagnose", loses=["test_diagnose"], visible=False,
                         code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        return "too slow" if train[-1] < 0.9 * train[0] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'))

# Off by one in the window: k records back counted from the first record, not the last (train[k] instead of
# train[-1 - k]). Right for the visible curves, wrong for the hidden curve that fell early and then stayed flat.
WRONG.append(WrongAnswer("diagnose_window_from_start", cell="diagnose", loses=["test_diagnose"],
                         code='def diagnose(train_loss, val_loss):\n    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n        return "diverging"\n    if train[-1] > 0.2 * train[0]:\n        k = max(1, len(train) // 4)\n        return "too slow" if train[-1] < 0.9 * train[k] else "underfitting"\n    if val[-1] > 1.2 * val.min():\n        return "overfitting"\n    return "healthy"\n'))

# The old rule 1, kept from EXTRA and graded: any spike above the first loss is diverging, even one the run recovers
# from. Passes the visible check (its curves are monotone); caught by test_diagnose's hidden spike that ends low.
WRONG += [w for w in EXTRA if w.name == "diagnose_spike_is_diverging"]
