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
        loses=["test_reliability_bins", "test_ece"],
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
    ),
    WrongAnswer(
        name="temperature-multiplies-logits",
        cell="apply_temperature",
        code='''def apply_temperature(z, T):
    return torch.softmax(z * T, dim=1)
''',
        loses=["test_apply_temperature"],
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
    ),
    WrongAnswer(
        name="auroc-ties-ignored",
        cell="auroc",
        code='''def auroc(s_in, s_out):
    s_in, s_out = np.asarray(s_in, dtype=float), np.asarray(s_out, dtype=float)
    return float(np.mean(s_in[:, None] > s_out[None, :]))     # a tie counts 0 instead of 1/2
''',
        loses=["test_auroc"],
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
    ),
    WrongAnswer(
        name="fpr-threshold-at-95th-percentile",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    t = np.quantile(s_in, tpr)            # keeps only 5% of the in-distribution inputs
    return float(np.mean(np.asarray(s_out) >= t))
''',
        loses=["test_fpr_at_tpr"],
    ),
    WrongAnswer(
        name="fpr-in-out-swapped",
        cell="fpr_at_tpr",
        code='''def fpr_at_tpr(s_in, s_out, tpr=0.95):
    t = np.quantile(s_out, 1 - tpr)       # threshold taken from the OOD scores
    return float(np.mean(np.asarray(s_in) >= t))
''',
        loses=["test_fpr_at_tpr"],
    ),
]
