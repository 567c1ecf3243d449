"""Realistic wrong answers for Day 2. Each must lose points on the cells it names.

WRONG holds the mistakes the issue names plus a few more; the test suite grades each one.
EXTRA holds further realistic mistakes, checked the same way while authoring but left out of
the suite to keep its run time down (each entry costs one autograde run).
"""
from course.checks.submissions import WrongAnswer

WRONG = [
    WrongAnswer("grad_f_hardcoded", cell="grad_f", loses=["test_grad_f"],
                code="def grad_f(x):\n    return np.array([2.0, 6.0])\n"),
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
                      "    return grad\n")),
    WrongAnswer("softmax_no_max_subtraction", cell="softmax", loses=["test_softmax", "test_grad_logits"],
                code=("def softmax(logits):\n"
                      "    e = np.exp(logits)\n"
                      "    return e / e.sum(axis=1, keepdims=True)\n")),
    # log of a softmax that underflows to 0 for a logit of -1000: inf
    WrongAnswer("cross_entropy_log_of_softmax", cell="cross_entropy", loses=["test_cross_entropy"],
                code=("def cross_entropy(logits, y):\n"
                      "    p = softmax(logits)\n"
                      "    return float(-np.log(p[np.arange(len(y)), y]).mean())\n")),
    WrongAnswer("cross_entropy_summed", cell="cross_entropy", loses=["test_cross_entropy"],
                code=("def cross_entropy(logits, y):\n"
                      "    z = logits - logits.max(axis=1, keepdims=True)\n"
                      "    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
                      "    return float(-log_p[np.arange(len(y)), y].sum())\n")),
    WrongAnswer("grad_logits_summed_not_mean", cell="grad_logits", loses=["test_grad_logits", "test_backward"],
                code=("def grad_logits(logits, y):\n"
                      "    d = softmax(logits)\n"
                      "    d[np.arange(len(y)), y] -= 1\n"
                      "    return d\n")),
    WrongAnswer("affine_backward_bias_not_reduced", cell="affine_backward",
                loses=["test_affine_backward", "test_backward"],
                code=("def affine_backward(d_out, a, W):\n"
                      "    return d_out.T @ a, d_out, d_out @ W\n")),
    WrongAnswer("affine_backward_dW_transposed", cell="affine_backward",
                loses=["test_affine_backward", "test_backward"],
                code=("def affine_backward(d_out, a, W):\n"
                      "    return a.T @ d_out, d_out.sum(axis=0), d_out @ W\n")),
    WrongAnswer("relu_backward_mask_ge", cell="relu_backward", loses=["test_relu_backward", "test_backward"],
                code="def relu_backward(d_h, h_pre):\n    return d_h * (h_pre >= 0)\n"),
    WrongAnswer("relu_backward_mask_from_gradient", cell="relu_backward", loses=["test_relu_backward", "test_backward"],
                code="def relu_backward(d_h, h_pre):\n    return d_h * (d_h > 0)\n"),
    WrongAnswer("sgd_step_adds_gradient", cell="sgd_step", loses=["test_sgd_step", "test_train_sgd"],
                code="def sgd_step(params, grads, lr):\n    return {n: params[n] + lr * grads[n] for n in params}\n"),
    WrongAnswer("adam_no_bias_correction", cell="adam_step", loses=["test_adam_step"],
                code=("def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                      "    m = beta1 * m + (1 - beta1) * grad\n"
                      "    v = beta2 * v + (1 - beta2) * grad ** 2\n"
                      "    return theta - lr * m / (np.sqrt(v) + eps), m, v\n")),
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
                      "    return theta - lr * m / (np.sqrt(v) + eps), m, v\n")),
    WrongAnswer("diagnose_swaps_over_and_underfitting", cell="diagnose", loses=["test_diagnose"],
                code=("def diagnose(train_loss, val_loss):\n"
                      "    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n"
                      "    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train.max() > train[0]:\n"
                      "        return 'diverging'\n"
                      "    if train[-1] > 0.2 * train[0]:\n"
                      "        return 'overfitting'\n"
                      "    if val[-1] > 1.2 * val.min():\n"
                      "        return 'underfitting'\n"
                      "    return 'healthy'\n")),
    # nan compares False with everything, so a nan curve slips through as healthy
    WrongAnswer("diagnose_ignores_nan", cell="diagnose", loses=["test_diagnose"],
                code=("def diagnose(train_loss, val_loss):\n"
                      "    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n"
                      "    if train.max() > train[0]:\n"
                      "        return 'diverging'\n"
                      "    if train[-1] > 0.2 * train[0]:\n"
                      "        return 'underfitting'\n"
                      "    if val[-1] > 1.2 * val.min():\n"
                      "        return 'overfitting'\n"
                      "    return 'healthy'\n")),
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
                loses=["test_affine_backward", "test_backward"],
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
    # only looks at the end of the training curve: a spike that recovers goes unnoticed
    WrongAnswer("diagnose_diverging_only_at_end", cell="diagnose", loses=["test_diagnose"],
                code=("def diagnose(train_loss, val_loss):\n"
                      "    train, val = np.asarray(train_loss, dtype=float), np.asarray(val_loss, dtype=float)\n"
                      "    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))) or train[-1] > train[0]:\n"
                      "        return 'diverging'\n"
                      "    if train[-1] > 0.2 * train[0]:\n"
                      "        return 'underfitting'\n"
                      "    if val[-1] > 1.2 * val.min():\n"
                      "        return 'overfitting'\n"
                      "    return 'healthy'\n")),
]
