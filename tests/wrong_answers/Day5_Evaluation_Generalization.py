"""Realistic wrong answers for Day 5; each must lose points on the listed test cells."""
from course.checks.submissions import WrongAnswer

WRONG = [
    # ---- Part 1: polynomial fit and bias-variance -------------------------------------------
    WrongAnswer(
        name="poly-raw-monomials",
        cell="poly_fit",
        code='''def poly_fit(x, y, degree, x0):
    """Fit with raw powers of x (np.polyfit): ill-conditioned far from 0 and at high degree."""
    return np.polyval(np.polyfit(x, y, degree), x0)
''',
        loses=["test_poly_fit"],
    ),
    WrongAnswer(
        name="poly-fixed-unit-interval",
        cell="poly_fit",
        code='''def poly_fit(x, y, degree, x0):
    """Legendre basis, but u = 2x - 1 assumes the data lie in [0, 1]."""
    Phi = np.polynomial.legendre.legvander(2 * x - 1, degree)
    w, *_ = np.linalg.lstsq(Phi, y, rcond=None)
    return np.polynomial.legendre.legvander(2 * x0 - 1, degree) @ w
''',
        loses=["test_poly_fit"],
    ),
    WrongAnswer(
        name="poly-normal-equations-monomials",
        cell="poly_fit",
        code='''def poly_fit(x, y, degree, x0):
    """Normal equations with the monomial design matrix: squares an already huge condition number."""
    Phi = np.vander(x, degree + 1, increasing=True)
    w = np.linalg.solve(Phi.T @ Phi, Phi.T @ y)
    return np.vander(x0, degree + 1, increasing=True) @ w
''',
        loses=["test_poly_fit"],
    ),
    WrongAnswer(
        name="variance-ddof1",
        cell="bias_variance",
        code='''def bias_variance(preds, f0):
    f_bar = preds.mean(axis=0)
    bias2 = (f0 - f_bar) ** 2
    var = preds.var(axis=0, ddof=1)    # sample variance: the decomposition no longer adds up
    return bias2, var
''',
        loses=["test_bias_variance"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="bias2-as-mean-squared-error",
        cell="bias_variance",
        code='''def bias_variance(preds, f0):
    bias2 = ((preds - f0) ** 2).mean(axis=0)   # the mean of squared errors, not the squared error of the mean
    var = preds.var(axis=0)
    return bias2, var
''',
        loses=["test_bias_variance"],
        visible=False,  # the visible check catches it
    ),
    # ---- Part 2: reliability diagram, ECE, temperature -------------------------------------
    WrongAnswer(
        name="bins-acc-conf-swapped",
        cell="reliability_bins",
        code='''def reliability_bins(conf, correct, n_bins=10):
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    b = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    conf_b, acc_b = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    count_b = np.zeros(n_bins, dtype=int)
    for k in range(n_bins):
        in_bin = b == k
        count_b[k] = in_bin.sum()
        if count_b[k] > 0:
            conf_b[k] = conf[in_bin].mean()
            acc_b[k] = correct[in_bin].mean()
    return acc_b, conf_b, count_b      # accuracy and confidence swapped
''',
        loses=["test_reliability_bins"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="bins-drop-confidence-one",
        cell="reliability_bins",
        code='''def reliability_bins(conf, correct, n_bins=10):
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    b = (conf * n_bins).astype(int)          # conf == 1.0 lands in bin n_bins, which is never visited
    conf_b, acc_b = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    count_b = np.zeros(n_bins, dtype=int)
    for k in range(n_bins):
        in_bin = b == k
        count_b[k] = in_bin.sum()
        if count_b[k] > 0:
            conf_b[k] = conf[in_bin].mean()
            acc_b[k] = correct[in_bin].mean()
    return conf_b, acc_b, count_b
''',
        loses=["test_reliability_bins"],  # not test_ece: ece is graded with the reference reliability_bins (issue 15 §2)
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="ece-unweighted-mean",
        cell="ece",
        code='''def ece(conf, correct, n_bins=10):
    conf_b, acc_b, count_b = reliability_bins(conf, correct, n_bins)
    full = count_b > 0
    return float(np.mean(np.abs(acc_b[full] - conf_b[full])))   # every non-empty bin counts the same
''',
        loses=["test_ece"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        # With the absolute value, |acc - conf| = |conf - acc|: a swap inside the gap only shows when the
        # roles of accuracy and confidence are swapped where it matters, in choosing the bins.
        name="ece-acc-conf-swapped",
        cell="ece",
        code='''def ece(conf, correct, n_bins=10):
    acc_b, conf_b, count_b = reliability_bins(correct, conf, n_bins)   # accuracy and confidence swapped
    full = count_b > 0
    return float(np.sum(count_b[full] / count_b.sum() * np.abs(acc_b[full] - conf_b[full])))
''',
        loses=["test_ece"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="ece-signed-gap",
        cell="ece",
        code='''def ece(conf, correct, n_bins=10):
    conf_b, acc_b, count_b = reliability_bins(conf, correct, n_bins)
    full = count_b > 0
    return float(np.sum(count_b[full] / count_b.sum() * (conf_b[full] - acc_b[full])))   # no absolute value
''',
        loses=["test_ece"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="temperature-multiplies-logits",
        cell="apply_temperature",
        code='''def apply_temperature(z, T):
    return torch.softmax(z * T, dim=1)
''',
        loses=["test_apply_temperature"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="temperature-naive-softmax",
        cell="apply_temperature",
        code='''def apply_temperature(z, T):
    e = torch.exp(z / T)                  # overflows for large logits
    return e / e.sum(dim=1, keepdim=True)
''',
        loses=["test_apply_temperature"],
    ),
    WrongAnswer(
        name="fit-temperature-multiplies-logits",
        cell="fit_temperature",
        code='''def fit_temperature(z, y):
    from scipy.optimize import minimize_scalar
    z, y = z.detach().double(), y.long()

    def nll(T):
        return F.cross_entropy(z * T, y).item()     # multiplies: finds 1 / T*

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
''',
        loses=["test_fit_temperature"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="fit-temperature-max-accuracy",
        cell="fit_temperature",
        code='''def fit_temperature(z, y):
    best_T, best_acc = 1.0, -1.0
    for T in np.linspace(0.05, 20, 400):
        acc = (apply_temperature(z, float(T)).argmax(1) == y).float().mean().item()
        if acc > best_acc:
            best_T, best_acc = float(T), acc
    return best_T
''',
        loses=["test_fit_temperature"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="fit-temperature-coarse-grid",
        cell="fit_temperature",
        code='''def fit_temperature(z, y):
    grid = [0.5, 1.0, 1.5, 2.0, 3.0, 5.0]                 # too coarse to find the minimum
    return float(min(grid, key=lambda T: F.cross_entropy(z / T, y).item()))
''',
        loses=["test_fit_temperature"],
    ),
    # ---- Part 3: rotation ------------------------------------------------------------------
    WrongAnswer(
        name="rotate-clockwise",
        cell="rotate",
        code='''def rotate(X, angle):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    A = torch.tensor([[c, s, 0.0], [-s, c, 0.0]], dtype=X.dtype, device=X.device)   # the inverse rotation
    grid = F.affine_grid(A.expand(len(X), 2, 3), (len(X), 1, *X.shape[-2:]), align_corners=False)
    return F.grid_sample(X[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]
''',
        loses=["test_rotate"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="rotate-degrees-as-radians",
        cell="rotate",
        code='''def rotate(X, angle):
    c, s = math.cos(angle), math.sin(angle)     # forgot to convert degrees to radians
    A = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=X.dtype, device=X.device)
    grid = F.affine_grid(A.expand(len(X), 2, 3), (len(X), 1, *X.shape[-2:]), align_corners=False)
    return F.grid_sample(X[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]
''',
        loses=["test_rotate"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="rotate-torchvision-nearest",
        cell="rotate",
        code='''def rotate(X, angle):
    import torchvision.transforms.functional as TF
    return TF.rotate(X, angle)     # torchvision's default interpolation is NEAREST, not bilinear
''',
        loses=["test_rotate"],
    ),
    # ---- Part 4: OOD -----------------------------------------------------------------------
    WrongAnswer(
        name="msp-max-logit",
        cell="msp",
        code='''def msp(z):
    return z.max(dim=1).values       # the largest logit, not the largest probability
''',
        loses=["test_msp"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="msp-softmax-wrong-dim",
        cell="msp",
        code='''def msp(z):
    return torch.softmax(z, dim=0).max(dim=1).values   # normalised over the batch, not the classes
''',
        loses=["test_msp"],
    ),
    WrongAnswer(
        name="auroc-in-out-swapped",
        cell="auroc",
        code='''def auroc(s_in, s_out):
    s_in, s_out = np.asarray(s_in, dtype=float), np.asarray(s_out, dtype=float)
    r = scipy.stats.rankdata(np.concatenate([s_out, s_in]))   # OOD treated as the positive class
    n_in, n_out = len(s_in), len(s_out)
    return float((r[:n_out].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))
''',
        loses=["test_auroc"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="auroc-ties-ignored",
        cell="auroc",
        code='''def auroc(s_in, s_out):
    s_in, s_out = np.asarray(s_in, dtype=float), np.asarray(s_out, dtype=float)
    return float(np.mean(s_in[:, None] > s_out[None, :]))     # a tie counts 0 instead of 1/2
''',
        loses=["test_auroc"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="auroc-ordinal-ranks",
        cell="auroc",
        code='''def auroc(s_in, s_out):
    s = np.concatenate([np.asarray(s_in, dtype=float), np.asarray(s_out, dtype=float)])
    r = s.argsort().argsort() + 1.0      # ties broken by position instead of averaged
    n_in, n_out = len(s_in), len(s_out)
    return float((r[:n_in].sum() - n_in * (n_in + 1) / 2) / (n_in * n_out))
''',
        loses=["test_auroc"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="fpr-threshold-at-95th-percentile",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    t = np.quantile(s_in, tpr)            # keeps only 5% of the in-distribution inputs
    return float(np.mean(np.asarray(s_out) >= t))
''',
        loses=["test_fpr_at_tpr"],
        visible=False,  # the visible check catches it
    ),
    WrongAnswer(
        name="fpr-in-out-swapped",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    t = np.quantile(s_out, 1 - tpr)       # threshold taken from the OOD scores
    return float(np.mean(np.asarray(s_in) >= t))
''',
        loses=["test_fpr_at_tpr"],
        visible=False,  # the visible check catches it
    ),
    # ==== New for issue 15: mistakes that pass the visible checks; only the hidden tests catch them ====
    # ---- poly_fit ---------------------------------------------------------------------------
    # Side effect: scales the caller's x in place, so the lab's x_train is [-1, 1] after the first fit and
    # every later fit in the bias-variance experiment is wrong. Caught by test_poly_fit's hidden
    # "poly_fit changed its inputs x, y or x0 in place" assertion (inputs compared with copies after the call).
    WrongAnswer(
        name="poly-scales-x-in-place",
        cell="poly_fit",
        code='''def poly_fit(x, y, degree, x0):
    lo, hi = x.min(), x.max()
    x -= lo                              # scale to [-1, 1] in place: the caller's x changes
    x *= 2 / (hi - lo)
    x -= 1
    u0 = (2 * x0 - (lo + hi)) / (hi - lo)
    Phi = np.polynomial.legendre.legvander(x, degree)
    w, *_ = np.linalg.lstsq(Phi, y, rcond=None)
    return np.polynomial.legendre.legvander(u0, degree) @ w
''',
        loses=["test_poly_fit"],
    ),
    # Boundary: takes the training range from the first and last point, which is right only for sorted x.
    # Caught by test_poly_fit's hidden unsorted cases (x[0], x[-1] close together): the predictions differ
    # from the least-squares reference.
    WrongAnswer(
        name="poly-range-from-first-and-last-point",
        cell="poly_fit",
        code='''def poly_fit(x, y, degree, x0):
    lo, hi = x[0], x[-1]                 # assumes x is sorted
    u, u0 = (2 * x - (lo + hi)) / (hi - lo), (2 * x0 - (lo + hi)) / (hi - lo)
    Phi = np.polynomial.legendre.legvander(u, degree)
    w, *_ = np.linalg.lstsq(Phi, y, rcond=None)
    return np.polynomial.legendre.legvander(u0, degree) @ w
''',
        loses=["test_poly_fit"],
    ),
    # ---- bias_variance -----------------------------------------------------------------------
    # Side effect: centres preds in place, so the lab's preds[d] is destroyed before the Monte Carlo check.
    # Caught by test_bias_variance's hidden "changed preds or f0 in place" assertion (references computed first).
    WrongAnswer(
        name="bias-variance-centres-preds-in-place",
        cell="bias_variance",
        code='''def bias_variance(preds, f0):
    f_bar = preds.mean(axis=0)
    preds -= f_bar                       # centre the predictions (in place)
    var = (preds ** 2).mean(axis=0)
    return (f0 - f_bar) ** 2, var
''',
        loses=["test_bias_variance"],
    ),
    # Hand-made visible case hides it: the visible bias is 0 or 1, where |e| and e^2 agree. Caught by
    # test_bias_variance's hidden comparison of bias^2 with (f0 - mean)^2 on random predictions.
    WrongAnswer(
        name="bias-not-squared",
        cell="bias_variance",
        code='''def bias_variance(preds, f0):
    f_bar = preds.mean(axis=0)
    return np.abs(f0 - f_bar), preds.var(axis=0)     # the bias, not the bias squared
''',
        loses=["test_bias_variance"],
    ),
    # ---- reliability_bins --------------------------------------------------------------------
    # Exact boundary: right-closed bins (b/B < conf <= (b+1)/B), so 0.5 lands in bin 4 with 10 bins.
    # Caught by test_reliability_bins' hidden exact-edge cases (0.25, 0.5, 0.75 with 4 bins; 0.5 with 10).
    WrongAnswer(
        name="bins-right-closed-edges",
        cell="reliability_bins",
        code='''def reliability_bins(conf, correct, n_bins=10):
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, n_bins + 1)
    b = np.digitize(conf, edges[1:-1], right=True)     # right=True so that 1.0 stays in the last bin
    conf_b, acc_b = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    count_b = np.bincount(b, minlength=n_bins)
    for k in range(n_bins):
        if count_b[k] > 0:
            conf_b[k] = conf[b == k].mean()
            acc_b[k] = correct[b == k].mean()
    return conf_b, acc_b, count_b
''',
        loses=["test_reliability_bins"],
    ),
    # Exact boundary: floor division by the bin width 1/B in floating point; 0.5 // 0.1 is 4.0, not 5.
    # Caught by test_reliability_bins' hidden 10-bin exact-edge case (two confidences of exactly 0.5).
    WrongAnswer(
        name="bins-floor-divide-by-width",
        cell="reliability_bins",
        code='''def reliability_bins(conf, correct, n_bins=10):
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    b = np.minimum(conf // (1 / n_bins), n_bins - 1).astype(int)
    conf_b, acc_b = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    count_b = np.zeros(n_bins, dtype=int)
    for k in range(n_bins):
        in_bin = b == k
        count_b[k] = in_bin.sum()
        if count_b[k] > 0:
            conf_b[k] = conf[in_bin].mean()
            acc_b[k] = correct[in_bin].mean()
    return conf_b, acc_b, count_b
''',
        loses=["test_reliability_bins"],
    ),
    # Side effect (and a wrong mean): moves 1.0 to 0.999999 in the caller's array. The old test built its
    # reference after the call, from the changed array, and passed it. Caught by test_reliability_bins'
    # hidden "changed conf or correct in place" assertion and the 1e-12 tolerance on conf_b.
    WrongAnswer(
        name="bins-clip-one-in-place",
        cell="reliability_bins",
        code='''def reliability_bins(conf, correct, n_bins=10):
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    conf[conf >= 1.0] = 0.999999        # so that 1.0 falls into the last bin
    b = (conf * n_bins).astype(int)
    conf_b, acc_b = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    count_b = np.zeros(n_bins, dtype=int)
    for k in range(n_bins):
        in_bin = b == k
        count_b[k] = in_bin.sum()
        if count_b[k] > 0:
            conf_b[k] = conf[in_bin].mean()
            acc_b[k] = correct[in_bin].mean()
    return conf_b, acc_b, count_b
''',
        loses=["test_reliability_bins"],
    ),
    # ---- ece ---------------------------------------------------------------------------------
    # Exact boundary: an ECE with its own right-closed bins. Caught by test_ece's hidden exact-edge cases
    # (conf 0.5 and 0.45 with 10 bins: 0.475 expected; 0.25/0.75 with 4 bins; 0.5 with 2 bins).
    WrongAnswer(
        name="ece-own-right-closed-bins",
        cell="ece",
        code='''def ece(conf, correct, n_bins=10):
    conf, correct = np.asarray(conf, dtype=float), np.asarray(correct, dtype=float)
    total = 0.0
    for k in range(n_bins):
        lo, hi = k / n_bins, (k + 1) / n_bins
        in_bin = (conf > lo) & (conf <= hi) if k > 0 else (conf <= hi)
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(total)
''',
        loses=["test_ece"],
    ),
    # Argument ignored: calls reliability_bins with its default 10 bins. The visible check uses 10 bins.
    # Caught by test_ece's hidden random cases with 15, 5, 20 and 1 bins.
    WrongAnswer(
        name="ece-ignores-n-bins",
        cell="ece",
        code='''def ece(conf, correct, n_bins=10):
    conf_b, acc_b, count_b = reliability_bins(conf, correct)     # n_bins not passed on
    full = count_b > 0
    return float(np.sum(count_b[full] / count_b.sum() * np.abs(acc_b[full] - conf_b[full])))
''',
        loses=["test_ece"],
    ),
    # ---- apply_temperature -------------------------------------------------------------------
    # Side effect: shifts the caller's logits in place "for stability". Softmax is shift-invariant, so the old
    # test (reference built after the call) passed it. Caught by test_apply_temperature's hidden
    # "changed the logits z in place" assertion.
    WrongAnswer(
        name="temperature-shifts-logits-in-place",
        cell="apply_temperature",
        code='''def apply_temperature(z, T):
    z -= z.max(dim=1, keepdim=True).values      # stabilise (in place)
    return torch.softmax(z / T, dim=1)
''',
        loses=["test_apply_temperature"],
    ),
    # Numerical stability: softmax(z)^(1/T), renormalised, equals softmax(z / T) on paper, but softmax(z)
    # underflows to exactly 0 in float32 for logit gaps over ~100. Caught by test_apply_temperature's hidden
    # "expected softmax(z / T)" assertion on float32 logits: first the scale-300 random logits at T = 10, and
    # by a wide margin the hand-made logits at +-100..200 with T = 40 and 100.
    WrongAnswer(
        name="temperature-power-of-probabilities",
        cell="apply_temperature",
        code='''def apply_temperature(z, T):
    p = torch.softmax(z, dim=1) ** (1 / T)      # sharpen or flatten the probabilities
    return p / p.sum(dim=1, keepdim=True)
''',
        loses=["test_apply_temperature"],
    ),
    # ---- fit_temperature ---------------------------------------------------------------------
    # Numerical stability: a hand-written NLL, -log(softmax(z / T)[y]), in float32. A probability that
    # underflows to 0 makes the NLL inf near the optimum. Caught by test_fit_temperature's hidden float32
    # case with two confident mistakes at +-100 (T* about 1.3, this finds about 1.9).
    WrongAnswer(
        name="fit-temperature-naive-log-softmax",
        cell="fit_temperature",
        code='''def fit_temperature(z, y):
    from scipy.optimize import minimize_scalar

    def nll(T):
        p = torch.softmax(z / T, dim=1)
        return -torch.log(p[torch.arange(len(y)), y]).mean().item()

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
''',
        loses=["test_fit_temperature"],
    ),
    # A curve that goes back up, read one way only: walks T up from 1 while the NLL falls and stops at the
    # first rise, assuming the model is overconfident. Caught by test_fit_temperature's hidden
    # underconfident case (logits 0.5x: T* about 0.5, this returns 1.0).
    WrongAnswer(
        name="fit-temperature-walks-up-from-one",
        cell="fit_temperature",
        code='''def fit_temperature(z, y):
    T, step = 1.0, 0.01
    best = F.cross_entropy(z / T, y).item()
    while T + step <= 20:
        nxt = F.cross_entropy(z / (T + step), y).item()
        if nxt >= best:                  # the NLL went back up: stop
            break
        T, best = T + step, nxt
    return float(T)
''',
        loses=["test_fit_temperature"],
    ),
    # Training loop stopped early: Adam on log T for a fixed 300 steps returns the last iterate, which has
    # not reached the minimum when T* is far from 1. Passes the visible T ~ 3; caught by
    # test_fit_temperature's hidden case with logits 6x too large (T* about 5.8, this gives about 4.5).
    WrongAnswer(
        name="fit-temperature-adam-fixed-steps",
        cell="fit_temperature",
        code='''def fit_temperature(z, y):
    log_T = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([log_T], lr=0.01)
    for _ in range(300):
        loss = F.cross_entropy(z / log_T.exp(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(log_T.exp().item())
''',
        loses=["test_fit_temperature"],
    ),
    # ---- rotate ------------------------------------------------------------------------------
    # Boundary: padding_mode="border" repeats the edge pixels instead of reading 0 outside the image. At 90
    # degrees nothing is read outside, and MNIST borders are black anyway. Caught by test_rotate's hidden
    # "rotate(ones, 45): the corner pixels ... must be 0" assertion.
    WrongAnswer(
        name="rotate-border-padding",
        cell="rotate",
        code='''def rotate(X, angle):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    A = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=X.dtype, device=X.device)
    grid = F.affine_grid(A.expand(len(X), 2, 3), (len(X), 1, *X.shape[-2:]), align_corners=False)
    return F.grid_sample(X[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]
''',
        loses=["test_rotate"],
    ),
    # dtype: the 2x3 matrix is built in the default float32, so float64 images fail in grid_sample.
    # Caught by test_rotate's hidden float64 case.
    WrongAnswer(
        name="rotate-float32-matrix-only",
        cell="rotate",
        code='''def rotate(X, angle):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    A = torch.tensor([[c, -s, 0.0], [s, c, 0.0]])                  # always float32
    grid = F.affine_grid(A.expand(len(X), 2, 3), (len(X), 1, *X.shape[-2:]), align_corners=False)
    return F.grid_sample(X[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]
''',
        loses=["test_rotate"],
    ),
    # ---- msp ---------------------------------------------------------------------------------
    # Side effect: the max-shift for stability is done in place on the caller's logits (z_te in the lab).
    # Softmax is shift-invariant, so the old test passed it. Caught by test_msp's hidden "changed the
    # logits z in place" assertion.
    WrongAnswer(
        name="msp-shifts-logits-in-place",
        cell="msp",
        code='''def msp(z):
    z -= z.max(dim=1, keepdim=True).values      # stabilise (in place)
    e = torch.exp(z)
    return (e / e.sum(dim=1, keepdim=True)).max(dim=1).values
''',
        loses=["test_msp"],
    ),
    # Numerical stability: an unshifted exp overflows (inf / inf = nan) for float32 logits above ~88.
    # Caught by test_msp's hidden float32 cases at +-100 and at scale 1000 ("gave nan").
    WrongAnswer(
        name="msp-naive-exp",
        cell="msp",
        code='''def msp(z):
    e = torch.exp(z)
    return (e / e.sum(dim=1, keepdim=True)).max(dim=1).values
''',
        loses=["test_msp"],
    ),
    # ---- auroc -------------------------------------------------------------------------------
    # Side effect: sorts s_in and s_out in place for searchsorted. The AUROC is right, but in the lab s_out is
    # sorted afterwards, so the "most confident Fashion images" cell shows the wrong images. Caught by
    # test_auroc's hidden "changed s_in or s_out in place" assertion.
    WrongAnswer(
        name="auroc-sorts-inputs-in-place",
        cell="auroc",
        code='''def auroc(s_in, s_out):
    s_in, s_out = np.asarray(s_in, dtype=float), np.asarray(s_out, dtype=float)
    s_in.sort()
    s_out.sort()
    below = np.searchsorted(s_out, s_in, side="left")       # OOD scores strictly below each in-score
    at_or_below = np.searchsorted(s_out, s_in, side="right")
    return float((below + at_or_below).sum() / 2 / (len(s_in) * len(s_out)))
''',
        loses=["test_auroc"],
    ),
    # ---- fpr_at_tpr --------------------------------------------------------------------------
    # Threshold at an interpolated quantile: np.quantile(s_in, 1 - tpr) lies between two in-scores. On the
    # visible 0..99 it happens to agree, and the old 5e-3 tolerance let it pass (off by 0.003). Caught by
    # test_fpr_at_tpr's hidden comparison with sklearn's ROC at a 1e-12 tolerance, and by the exact case
    # (in-scores 1..20, an OOD score of 1.97 between the quantile 1.95 and the right threshold 2).
    WrongAnswer(
        name="fpr-interpolated-quantile-threshold",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    t = np.quantile(s_in, 1 - tpr)          # keep the top tpr of the in-distribution scores
    return float(np.mean(np.asarray(s_out) >= t))
''',
        loses=["test_fpr_at_tpr"],
    ),
    # Argument ignored: the index for 95% is hard-coded. Caught by test_fpr_at_tpr's hidden cases at
    # TPR 90%, 99%, 100% and 75%.
    WrongAnswer(
        name="fpr-ignores-tpr-argument",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    t = np.sort(s_in)[int(0.05 * len(s_in))]      # the 5% lowest in-scores are dropped
    return float(np.mean(np.asarray(s_out) >= t))
''',
        loses=["test_fpr_at_tpr"],
    ),
    # Side effect: s_in.sort() sorts the caller's array (the lab's s_in, plotted afterwards). Caught by
    # test_fpr_at_tpr's hidden "changed s_in or s_out in place" assertion.
    WrongAnswer(
        name="fpr-sorts-s-in-in-place",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    s_in.sort()
    t = s_in[int(round((1 - tpr) * len(s_in), 9))]
    return float(np.mean(np.asarray(s_out) >= t))
''',
        loses=["test_fpr_at_tpr"],
    ),
]

# --- Part 5, FGSM (issue 19) ---
# Edge case: no clip to [0, 1]; the visible pixels lie in [0.3, 0.7], where the clip does nothing. Caught by
# test_fgsm's hidden comparison on images with pixels at 0 and 1.
WRONG.append(WrongAnswer("fgsm_no_clip", cell="fgsm", loses=["test_fgsm"],
                         code=("def fgsm(model, X, y, eps):\n"
                               "    X_ = X.detach().clone().requires_grad_(True)\n"
                               "    grad, = torch.autograd.grad(F.cross_entropy(model(X_), y), X_)\n"
                               "    return X.detach() + eps * grad.sign()\n")))

# Wrong label: the gradient at the model's own prediction instead of the true label; the visible labels are the
# net's predictions, so both agree there. Caught by test_fgsm's hidden comparison with random labels.
WRONG.append(WrongAnswer("fgsm_predicted_labels", cell="fgsm", loses=["test_fgsm"],
                         code=("def fgsm(model, X, y, eps):\n"
                               "    X_ = X.detach().clone().requires_grad_(True)\n"
                               "    logits = model(X_)\n"
                               "    grad, = torch.autograd.grad(F.cross_entropy(logits, logits.argmax(1)), X_)\n"
                               "    return (X.detach() + eps * grad.sign()).clamp(0, 1)\n")))

# The gradient itself instead of its sign. Caught by test_fgsm's visible "every pixel should move by exactly eps".
WRONG.append(WrongAnswer("fgsm_gradient_not_sign", cell="fgsm", loses=["test_fgsm"], visible=False,
                         code=("def fgsm(model, X, y, eps):\n"
                               "    X_ = X.detach().clone().requires_grad_(True)\n"
                               "    grad, = torch.autograd.grad(F.cross_entropy(model(X_), y), X_)\n"
                               "    return (X.detach() + eps * grad).clamp(0, 1)\n")))

# Descends instead of ascends: a step that lowers the loss. Caught by test_fgsm's visible "moved the wrong way".
WRONG.append(WrongAnswer("fgsm_descends", cell="fgsm", loses=["test_fgsm"], visible=False,
                         code=("def fgsm(model, X, y, eps):\n"
                               "    X_ = X.detach().clone().requires_grad_(True)\n"
                               "    grad, = torch.autograd.grad(F.cross_entropy(model(X_), y), X_)\n"
                               "    return (X.detach() - eps * grad.sign()).clamp(0, 1)\n")))

# Side effect: steps X in place and returns it. Caught by test_fgsm (the visible reference, computed after the call,
# starts from the moved X; the hidden "must not modify X").
WRONG.append(WrongAnswer("fgsm_in_place", cell="fgsm", loses=["test_fgsm"], visible=False,
                         code=("def fgsm(model, X, y, eps):\n"
                               "    X_ = X.detach().clone().requires_grad_(True)\n"
                               "    grad, = torch.autograd.grad(F.cross_entropy(model(X_), y), X_)\n"
                               "    with torch.no_grad():\n"
                               "        X.add_(eps * grad.sign()).clamp_(0, 1)\n"
                               "    return X\n")))
