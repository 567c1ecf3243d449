"""Realistic mistakes in the Day 3 lab that the tests must punish.

ALL_WRONG lists every mistake we checked (each was verified to lose points on its `loses` cells).
WRONG, the set the test suite grades, is the subset the issues name (CORE) plus the mistakes that pass the
visible checks (NEW, issue 15: side effects, stochastic procedures, numerical stability, gradient flow) —
kept small because every entry is one more autograded submission (~30 s each).
`visible=False` marks the older mistakes that the visible checks already catch.
"""
from course.checks.submissions import WrongAnswer

ALL_WRONG = [
    # ---- Part 1: Gaussians and KL -------------------------------------------------------------
    # sample_gaussian: Sigma used in place of its Cholesky factor
    WrongAnswer(
        "sample_sigma_not_cholesky",
        cell="sample_gaussian",
        code='''def sample_gaussian(mu, Sigma, n):
    eps = torch.randn(n, mu.shape[0], dtype=mu.dtype)
    return mu + eps @ Sigma.T
''',
        loses=["test_sample_gaussian"], visible=False),
    # sample_gaussian: elementwise square root of Sigma (ignores correlations)
    WrongAnswer(
        "sample_sqrt_diagonal",
        cell="sample_gaussian",
        code='''def sample_gaussian(mu, Sigma, n):
    eps = torch.randn(n, mu.shape[0], dtype=mu.dtype)
    return mu + eps * torch.sqrt(torch.diagonal(Sigma))
''',
        loses=["test_sample_gaussian"], visible=False),
    # fit_gaussian: covariance divides by N-1 where the MLE is asked for
    WrongAnswer(
        "fit_cov_divides_by_n_minus_1",
        cell="fit_gaussian",
        code='''def fit_gaussian(X):
    mu_hat = X.mean(dim=0)
    Xc = X - mu_hat
    return mu_hat, Xc.T @ Xc / (X.shape[0] - 1)
''',
        loses=["test_fit_gaussian"], visible=False),
    # fit_gaussian: torch.cov with its default (unbiased) correction
    WrongAnswer(
        "fit_torch_cov_unbiased",
        cell="fit_gaussian",
        code='''def fit_gaussian(X):
    return X.mean(dim=0), torch.cov(X.T).reshape(X.shape[1], X.shape[1])
''',
        loses=["test_fit_gaussian"], visible=False),
    # kl_gaussian: the factor 1/2 is missing
    WrongAnswer(
        "kl_gaussian_missing_half",
        cell="kl_gaussian",
        code='''def kl_gaussian(mu_q, Sigma_q, mu_p, Sigma_p):
    d = mu_q.shape[0]
    diff = mu_p - mu_q
    trace = torch.trace(torch.linalg.solve(Sigma_p, Sigma_q))
    mahalanobis = diff @ torch.linalg.solve(Sigma_p, diff)
    return trace + mahalanobis - d + torch.logdet(Sigma_p) - torch.logdet(Sigma_q)
''',
        loses=["test_kl_gaussian"], visible=False),
    # kl_gaussian: log-determinant ratio with the sign flipped
    WrongAnswer(
        "kl_gaussian_logdet_sign_flipped",
        cell="kl_gaussian",
        code='''def kl_gaussian(mu_q, Sigma_q, mu_p, Sigma_p):
    d = mu_q.shape[0]
    diff = mu_p - mu_q
    trace = torch.trace(torch.linalg.solve(Sigma_p, Sigma_q))
    mahalanobis = diff @ torch.linalg.solve(Sigma_p, diff)
    return 0.5 * (trace + mahalanobis - d + torch.logdet(Sigma_q) - torch.logdet(Sigma_p))
''',
        loses=["test_kl_gaussian"], visible=False),
    # kl_gaussian: the arguments swapped, computes KL(p || q)
    WrongAnswer(
        "kl_gaussian_swapped",
        cell="kl_gaussian",
        code='''def kl_gaussian(mu_q, Sigma_q, mu_p, Sigma_p):
    d = mu_q.shape[0]
    diff = mu_q - mu_p
    trace = torch.trace(torch.linalg.solve(Sigma_q, Sigma_p))
    mahalanobis = diff @ torch.linalg.solve(Sigma_q, diff)
    return 0.5 * (trace + mahalanobis - d + torch.logdet(Sigma_q) - torch.logdet(Sigma_p))
''',
        loses=["test_kl_gaussian"], visible=False),
    # kl_monte_carlo: samples drawn from p instead of q
    WrongAnswer(
        "kl_mc_samples_from_p",
        cell="kl_monte_carlo",
        code='''def kl_monte_carlo(mu_q, Sigma_q, mu_p, Sigma_p, n):
    q = torch.distributions.MultivariateNormal(mu_q, covariance_matrix=Sigma_q)
    p = torch.distributions.MultivariateNormal(mu_p, covariance_matrix=Sigma_p)
    x = p.sample((n,))
    f = q.log_prob(x) - p.log_prob(x)
    return f.mean(), f.std() / math.sqrt(n)
''',
        loses=["test_kl_monte_carlo"], visible=False),
    # kl_monte_carlo: standard error divides by n instead of sqrt(n)
    WrongAnswer(
        "kl_mc_se_over_n",
        cell="kl_monte_carlo",
        code='''def kl_monte_carlo(mu_q, Sigma_q, mu_p, Sigma_p, n):
    q = torch.distributions.MultivariateNormal(mu_q, covariance_matrix=Sigma_q)
    p = torch.distributions.MultivariateNormal(mu_p, covariance_matrix=Sigma_p)
    x = q.sample((n,))
    f = q.log_prob(x) - p.log_prob(x)
    return f.mean(), f.std() / n
''',
        loses=["test_kl_monte_carlo"], visible=False),
    # ---- Part 2: the VAE ------------------------------------------------------------------------
    # reparameterize: log sigma^2 used as sigma
    WrongAnswer(
        "reparam_logvar_as_sigma",
        cell="reparameterize",
        code='''def reparameterize(mu, log_var, eps=None):
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + log_var * eps
''',
        loses=["test_reparameterize"], visible=False),
    # reparameterize: the variance exp(log_var) used as sigma
    WrongAnswer(
        "reparam_variance_as_sigma",
        cell="reparameterize",
        code='''def reparameterize(mu, log_var, eps=None):
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(log_var) * eps
''',
        loses=["test_reparameterize"], visible=False),
    # reparameterize: torch.normal without eps (no gradient reaches mu, log_var)
    WrongAnswer(
        "reparam_torch_normal_no_grad",
        cell="reparameterize",
        code='''def reparameterize(mu, log_var, eps=None):
    sigma = torch.exp(0.5 * log_var)
    if eps is None:
        return torch.normal(mu, sigma)
    return mu + sigma * eps
''',
        loses=["test_reparameterize"]),
    # kl_to_standard_normal: the factor 1/2 is missing
    WrongAnswer(
        "kl_prior_missing_half",
        cell="kl_to_standard_normal",
        code='''def kl_to_standard_normal(mu, log_var):
    return (mu ** 2 + log_var.exp() - 1.0 - log_var).sum(dim=1)
''',
        loses=["test_kl_to_standard_normal"], visible=False),
    # kl_to_standard_normal: the sign flipped (the usual -1/2 formula with the minus lost)
    WrongAnswer(
        "kl_prior_sign_flipped",
        cell="kl_to_standard_normal",
        code='''def kl_to_standard_normal(mu, log_var):
    return 0.5 * (1 + log_var - mu ** 2 - log_var.exp()).sum(dim=1)
''',
        loses=["test_kl_to_standard_normal"], visible=False),
    # kl_to_standard_normal: mean over latent dimensions instead of the sum
    WrongAnswer(
        "kl_prior_mean_over_dims",
        cell="kl_to_standard_normal",
        code='''def kl_to_standard_normal(mu, log_var):
    return 0.5 * (mu ** 2 + log_var.exp() - 1.0 - log_var).mean(dim=1)
''',
        loses=["test_kl_to_standard_normal"], visible=False),
    # negative_elbo: BCE averaged over pixels (the default reduction) instead of summed
    WrongAnswer(
        "elbo_bce_mean_over_pixels",
        cell="negative_elbo",
        code='''def negative_elbo(x, x_logits, mu, log_var):
    reconstruction = F.binary_cross_entropy_with_logits(x_logits, x)
    return reconstruction + kl_to_standard_normal(mu, log_var).mean()
''',
        loses=["test_negative_elbo"], visible=False),
    # negative_elbo: summed over the batch instead of averaged
    WrongAnswer(
        "elbo_sum_over_batch",
        cell="negative_elbo",
        code='''def negative_elbo(x, x_logits, mu, log_var):
    reconstruction = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum")
    return reconstruction + kl_to_standard_normal(mu, log_var).sum()
''',
        loses=["test_negative_elbo"]),
    # negative_elbo: KL subtracted instead of added
    WrongAnswer(
        "elbo_kl_subtracted",
        cell="negative_elbo",
        code='''def negative_elbo(x, x_logits, mu, log_var):
    reconstruction = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum(dim=1)
    return (reconstruction - kl_to_standard_normal(mu, log_var)).mean()
''',
        loses=["test_negative_elbo"], visible=False),
    # ---- Part 3: diffusion ----------------------------------------------------------------------
    # linear_schedule: alpha_bars off by one (alpha_bars[0] = 1, i.e. steps counted 1..T)
    WrongAnswer(
        "schedule_alpha_bar_off_by_one",
        cell="linear_schedule",
        code='''def linear_schedule(T=1000, beta_start=1e-4, beta_end=0.02):
    betas = torch.linspace(beta_start, beta_end, T)
    alphas = 1.0 - betas
    alpha_bars = torch.cumprod(torch.cat([torch.ones(1), alphas[:-1]]), dim=0)
    return betas, alphas, alpha_bars
''',
        loses=["test_linear_schedule"], visible=False),
    # linear_schedule: alpha_t returned where alpha_bar_t is meant
    WrongAnswer(
        "schedule_alpha_as_alpha_bar",
        cell="linear_schedule",
        code='''def linear_schedule(T=1000, beta_start=1e-4, beta_end=0.02):
    betas = torch.linspace(beta_start, beta_end, T)
    alphas = 1.0 - betas
    return betas, alphas, alphas.clone()
''',
        loses=["test_linear_schedule"], visible=False),
    # q_sample: square roots missing
    WrongAnswer(
        "q_sample_missing_sqrt",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab * x0 + (1.0 - ab) * eps
''',
        loses=["test_q_sample"], visible=False),
    # q_sample: square root missing on the noise coefficient only
    WrongAnswer(
        "q_sample_missing_sqrt_on_noise",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1.0 - ab) * eps
''',
        loses=["test_q_sample"], visible=False),
    # q_sample: timestep off by one (alpha_bars[t - 1], as if t ran 1..T)
    WrongAnswer(
        "q_sample_t_minus_1",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t - 1].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps
''',
        loses=["test_q_sample"], visible=False),
    # time_embedding: cosines first, then sines
    WrongAnswer(
        "embedding_cos_first",
        cell="time_embedding",
        code='''def time_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
''',
        loses=["test_time_embedding"], visible=False),
    # time_embedding: frequencies 10000^(-j/dim) instead of 10000^(-j/(dim/2))
    WrongAnswer(
        "embedding_wrong_frequencies",
        cell="time_embedding",
        code='''def time_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / dim)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
''',
        loses=["test_time_embedding"], visible=False),
    # diffusion_loss: regresses x0 instead of the noise
    WrongAnswer(
        "loss_targets_x0",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    if t is None:
        t = torch.randint(0, len(alpha_bars), (x0.shape[0],), device=x0.device)
    if eps is None:
        eps = torch.randn_like(x0)
    x_t = q_sample(x0, t, eps, alpha_bars)
    return F.mse_loss(eps_model(x_t, t), x0)
''',
        loses=["test_diffusion_loss"], visible=False),
    # diffusion_loss: timesteps drawn from 1..T-1 (never t = 0)
    WrongAnswer(
        "loss_t_never_zero",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    if t is None:
        t = torch.randint(1, len(alpha_bars), (x0.shape[0],), device=x0.device)
    if eps is None:
        eps = torch.randn_like(x0)
    x_t = q_sample(x0, t, eps, alpha_bars)
    return F.mse_loss(eps_model(x_t, t), eps)
''',
        loses=["test_diffusion_loss"]),
    # diffusion_loss: timesteps drawn from 1..T (book indexing; index T is out of range)
    WrongAnswer(
        "loss_t_from_1_to_T",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    if t is None:
        t = torch.randint(1, len(alpha_bars) + 1, (x0.shape[0],), device=x0.device)
    if eps is None:
        eps = torch.randn_like(x0)
    x_t = q_sample(x0, t, eps, alpha_bars)
    return F.mse_loss(eps_model(x_t, t), eps)
''',
        loses=["test_diffusion_loss"]),
    # diffusion_loss: sum of squared errors instead of the mean
    WrongAnswer(
        "loss_sum_not_mean",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    if t is None:
        t = torch.randint(0, len(alpha_bars), (x0.shape[0],), device=x0.device)
    if eps is None:
        eps = torch.randn_like(x0)
    x_t = q_sample(x0, t, eps, alpha_bars)
    return ((eps_model(x_t, t) - eps) ** 2).sum()
''',
        loses=["test_diffusion_loss"], visible=False),
    # p_sample: noise added at the final step t = 0
    WrongAnswer(
        "p_sample_noise_at_t0",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    mean = (x_t - betas[t] / torch.sqrt(1.0 - alpha_bars[t]) * eps_hat) / torch.sqrt(alphas[t])
    return mean + torch.sqrt(betas[t]) * z
''',
        loses=["test_p_sample"], visible=False),
    # p_sample: coefficient sqrt(1 - alpha_bar_t) on the predicted noise
    WrongAnswer(
        "p_sample_wrong_eps_coefficient",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    mean = (x_t - torch.sqrt(1.0 - alpha_bars[t]) * eps_hat) / torch.sqrt(alphas[t])
    return mean if t == 0 else mean + torch.sqrt(betas[t]) * z
''',
        loses=["test_p_sample"], visible=False),
    # p_sample: alpha_t used where alpha_bar_t is meant (beta_t / sqrt(1 - alpha_t))
    WrongAnswer(
        "p_sample_alpha_for_alpha_bar",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    mean = (x_t - betas[t] / torch.sqrt(1.0 - alphas[t]) * eps_hat) / torch.sqrt(alphas[t])
    return mean if t == 0 else mean + torch.sqrt(betas[t]) * z
''',
        loses=["test_p_sample"], visible=False),
    # p_sample: alpha_bar_t used where alpha_t is meant (1 / sqrt(alpha_bar_t) in front)
    WrongAnswer(
        "p_sample_alpha_bar_for_alpha",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    mean = (x_t - betas[t] / torch.sqrt(1.0 - alpha_bars[t]) * eps_hat) / torch.sqrt(alpha_bars[t])
    return mean if t == 0 else mean + torch.sqrt(betas[t]) * z
''',
        loses=["test_p_sample"], visible=False),
    # p_sample: arrays indexed at t - 1 (book indexing 1..T)
    WrongAnswer(
        "p_sample_t_minus_1",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    s = t - 1
    mean = (x_t - betas[s] / torch.sqrt(1.0 - alpha_bars[s]) * eps_hat) / torch.sqrt(alphas[s])
    return mean if t == 0 else mean + torch.sqrt(betas[s]) * z
''',
        loses=["test_p_sample"], visible=False),
    # p_sample: the network called with t + 1 (book indexing 1..T)
    WrongAnswer(
        "p_sample_model_gets_t_plus_1",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t + 1, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    mean = (x_t - betas[t] / torch.sqrt(1.0 - alpha_bars[t]) * eps_hat) / torch.sqrt(alphas[t])
    return mean if t == 0 else mean + torch.sqrt(betas[t]) * z
''',
        loses=["test_p_sample"]),
    # sample: loop over t = T..1 (book indexing; index T is out of range)
    WrongAnswer(
        "sample_loop_T_to_1",
        cell="sample",
        code='''@torch.no_grad()
def sample(eps_model, shape, betas, alphas, alpha_bars, keep=()):
    x = torch.randn(shape, device=betas.device)
    kept = {}
    for t in range(len(betas), 0, -1):
        if t in keep:
            kept[t] = x.clone()
        x = p_sample(eps_model, x, t, betas, alphas, alpha_bars, torch.randn_like(x))
    return x, kept
''',
        loses=["test_sample"], visible=False),
    # sample: loop stops before t = 0 (range(T-1, 0, -1))
    WrongAnswer(
        "sample_loop_skips_t0",
        cell="sample",
        code='''@torch.no_grad()
def sample(eps_model, shape, betas, alphas, alpha_bars, keep=()):
    x = torch.randn(shape, device=betas.device)
    kept = {}
    for t in range(len(betas) - 1, 0, -1):
        if t in keep:
            kept[t] = x.clone()
        x = p_sample(eps_model, x, t, betas, alphas, alpha_bars, torch.randn_like(x))
    return x, kept
''',
        loses=["test_sample"], visible=False),
    # sample: starts from zeros instead of noise
    WrongAnswer(
        "sample_starts_from_zeros",
        cell="sample",
        code='''@torch.no_grad()
def sample(eps_model, shape, betas, alphas, alpha_bars, keep=()):
    x = torch.zeros(shape, device=betas.device)
    kept = {}
    for t in reversed(range(len(betas))):
        if t in keep:
            kept[t] = x.clone()
        x = p_sample(eps_model, x, t, betas, alphas, alpha_bars, torch.randn_like(x))
    return x, kept
''',
        loses=["test_sample"]),
]

# ---- Issue 15: mistakes that pass the visible checks; only the hidden tests catch them ----------------
NEW_WRONG = [
    # Side effect: a jitter added to Sigma in place (+=) changes the caller's covariance.
    # Caught by test_sample_gaussian, hidden: "sample_gaussian must not modify its inputs mu and Sigma".
    WrongAnswer(
        "sample_jitter_sigma_in_place",
        cell="sample_gaussian",
        code='''def sample_gaussian(mu, Sigma, n):
    Sigma += 1e-9 * torch.eye(Sigma.shape[0], dtype=Sigma.dtype)  # jitter, for a safe Cholesky
    L = torch.linalg.cholesky(Sigma)
    eps = torch.randn(n, mu.shape[0], dtype=mu.dtype)
    return mu + eps @ L.T
''',
        loses=["test_sample_gaussian"]),
    # Side effect: the data centred in place (X -= mu_hat), so the caller's X comes back centred.
    # Caught by test_fit_gaussian, hidden: "fit_gaussian must not modify X" (references computed before the call).
    WrongAnswer(
        "fit_centres_x_in_place",
        cell="fit_gaussian",
        code='''def fit_gaussian(X):
    mu_hat = X.mean(dim=0)
    X -= mu_hat
    return mu_hat, X.T @ X / X.shape[0]
''',
        loses=["test_fit_gaussian"]),
    # Numerical stability: log(det(Sigma_p) / det(Sigma_q)) instead of logdet; the determinants underflow
    # to 0 in 200 dimensions with small variances (nan). Caught by test_kl_gaussian, hidden: the d=200 case.
    WrongAnswer(
        "kl_gaussian_log_of_det",
        cell="kl_gaussian",
        code='''def kl_gaussian(mu_q, Sigma_q, mu_p, Sigma_p):
    d = mu_q.shape[0]
    diff = mu_p - mu_q
    trace = torch.trace(torch.linalg.solve(Sigma_p, Sigma_q))
    mahalanobis = diff @ torch.linalg.solve(Sigma_p, diff)
    return 0.5 * (trace + mahalanobis - d + torch.log(torch.det(Sigma_p) / torch.det(Sigma_q)))
''',
        loses=["test_kl_gaussian"]),
    # Stochastic procedure: the sample-size argument is ignored for the draws (a fixed 10 000), though the
    # standard error still divides by sqrt(n). Caught by test_kl_monte_carlo, hidden: the scatter of 40
    # estimates at n=100 and n=2500 must match the reported standard error.
    WrongAnswer(
        "kl_mc_ignores_n",
        cell="kl_monte_carlo",
        code='''def kl_monte_carlo(mu_q, Sigma_q, mu_p, Sigma_p, n):
    q = torch.distributions.MultivariateNormal(mu_q, covariance_matrix=Sigma_q)
    p = torch.distributions.MultivariateNormal(mu_p, covariance_matrix=Sigma_p)
    x = q.sample((10_000,))
    f = q.log_prob(x) - p.log_prob(x)
    return f.mean(), f.std() / math.sqrt(n)
''',
        loses=["test_kl_monte_carlo"]),
    # Stochastic procedure / RNG: draws from NumPy's generator, so torch.manual_seed does not make the
    # estimate repeatable. Caught by test_kl_monte_carlo, hidden: "the same seed gives the same estimate".
    WrongAnswer(
        "kl_mc_numpy_generator",
        cell="kl_monte_carlo",
        code='''def kl_monte_carlo(mu_q, Sigma_q, mu_p, Sigma_p, n):
    q = torch.distributions.MultivariateNormal(mu_q, covariance_matrix=Sigma_q)
    p = torch.distributions.MultivariateNormal(mu_p, covariance_matrix=Sigma_p)
    x = torch.from_numpy(np.random.multivariate_normal(mu_q.numpy(), Sigma_q.numpy(), size=n))
    f = q.log_prob(x) - p.log_prob(x)
    return f.mean(), f.std() / math.sqrt(n)
''',
        loses=["test_kl_monte_carlo"]),
    # Numerical stability: sigma = sqrt(exp(log_var)); in float32 exp(100) overflows (z = inf) and at
    # log_var = -120 the gradient is inf * 0 = nan. Caught by test_reparameterize, hidden: the float32 extremes.
    WrongAnswer(
        "reparam_sqrt_of_exp",
        cell="reparameterize",
        code='''def reparameterize(mu, log_var, eps=None):
    if eps is None:
        eps = torch.randn_like(mu)
    sigma = torch.sqrt(torch.exp(log_var))
    return mu + sigma * eps
''',
        loses=["test_reparameterize"]),
    # Numerical stability: log(sigma^2) recomputed as log(exp(log_var)), which is -inf in float32 at
    # log_var = -120. Caught by test_kl_to_standard_normal, hidden: the float32 extremes must give a finite KL.
    WrongAnswer(
        "kl_prior_log_of_exp",
        cell="kl_to_standard_normal",
        code='''def kl_to_standard_normal(mu, log_var):
    var = torch.exp(log_var)
    return 0.5 * (mu ** 2 + var - 1.0 - torch.log(var)).sum(dim=1)
''',
        loses=["test_kl_to_standard_normal"]),
    # Numerical stability: BCE on probabilities, F.binary_cross_entropy(sigmoid(logits), x); in float32
    # sigmoid(40) is exactly 1 and torch clamps log(0) to -100. Caught by test_negative_elbo, hidden: logits of +-30..+-100.
    WrongAnswer(
        "elbo_bce_on_probabilities",
        cell="negative_elbo",
        code='''def negative_elbo(x, x_logits, mu, log_var):
    probs = torch.sigmoid(x_logits)
    reconstruction = F.binary_cross_entropy(probs, x, reduction="none").sum(dim=1)
    return (reconstruction + kl_to_standard_normal(mu, log_var)).mean()
''',
        loses=["test_negative_elbo"]),
    # Side effect: x_t = x0 does not copy, so x_t *= ... scales the caller's x0 in place.
    # Caught by test_q_sample, hidden: "q_sample must not modify its inputs".
    WrongAnswer(
        "q_sample_scales_x0_in_place",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t].reshape(-1, *([1] * (x0.dim() - 1)))
    x_t = x0
    x_t *= ab.sqrt()
    x_t += (1.0 - ab).sqrt() * eps
    return x_t
''',
        loses=["test_q_sample"]),
    # Stochastic procedure: one timestep for the whole batch, repeated B times.
    # Caught by test_diffusion_loss, hidden: "every example in a batch needs its own random timestep".
    WrongAnswer(
        "loss_one_t_per_batch",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    if t is None:
        t = torch.randint(0, len(alpha_bars), (1,), device=x0.device).repeat(x0.shape[0])
    if eps is None:
        eps = torch.randn_like(x0)
    x_t = q_sample(x0, t, eps, alpha_bars)
    return F.mse_loss(eps_model(x_t, t), eps)
''',
        loses=["test_diffusion_loss"]),
    # Gradient flow: the forward process AND the network call wrapped in torch.no_grad, so no parameter learns.
    # Caught by test_diffusion_loss, hidden: the loss must require grad and every parameter gets a gradient.
    WrongAnswer(
        "loss_no_grad_around_model",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    with torch.no_grad():  # the forward process has no parameters
        if t is None:
            t = torch.randint(0, len(alpha_bars), (x0.shape[0],), device=x0.device)
        if eps is None:
            eps = torch.randn_like(x0)
        x_t = q_sample(x0, t, eps, alpha_bars)
        eps_hat = eps_model(x_t, t)
    return F.mse_loss(eps_hat, eps)
''',
        loses=["test_diffusion_loss"]),
    # Side effect: the reverse step updates x_t in place (x_t -= ..., x_t /= ...), changing the caller's tensor.
    # Caught by test_p_sample, hidden: "p_sample must not modify x_t, z or the schedule in place".
    WrongAnswer(
        "p_sample_updates_x_in_place",
        cell="p_sample",
        code='''def p_sample(eps_model, x_t, t, betas, alphas, alpha_bars, z):
    t_batch = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
    eps_hat = eps_model(x_t, t_batch)
    x_t -= betas[t] / torch.sqrt(1.0 - alpha_bars[t]) * eps_hat
    x_t /= torch.sqrt(alphas[t])
    if t > 0:
        x_t += torch.sqrt(betas[t]) * z
    return x_t
''',
        loses=["test_p_sample"]),
    # Stochastic procedure: one noise draw z made before the loop and reused at every step.
    # Caught by test_sample, hidden: the noise of consecutive steps must be uncorrelated.
    WrongAnswer(
        "sample_same_z_every_step",
        cell="sample",
        code='''@torch.no_grad()
def sample(eps_model, shape, betas, alphas, alpha_bars, keep=()):
    x = torch.randn(shape, device=betas.device)
    z = torch.randn_like(x)
    kept = {}
    for t in reversed(range(len(betas))):
        if t in keep:
            kept[t] = x.clone()
        x = p_sample(eps_model, x, t, betas, alphas, alpha_bars, z)
    return x, kept
''',
        loses=["test_sample"]),
]

# Verified like the others (they lose points on `loses` and pass the visible checks), not graded by the suite.
NEW_EXTRA = [
    # Stochastic procedure: torch.manual_seed(0) inside the function "for reproducibility": every call
    # returns the same estimate. Caught by test_kl_monte_carlo, hidden: the scatter test and "two calls differ".
    WrongAnswer(
        "kl_mc_reseeds_inside",
        cell="kl_monte_carlo",
        code='''def kl_monte_carlo(mu_q, Sigma_q, mu_p, Sigma_p, n):
    torch.manual_seed(0)
    q = torch.distributions.MultivariateNormal(mu_q, covariance_matrix=Sigma_q)
    p = torch.distributions.MultivariateNormal(mu_p, covariance_matrix=Sigma_p)
    x = sample_gaussian(mu_q, Sigma_q, n)
    f = q.log_prob(x) - p.log_prob(x)
    return f.mean(), f.std() / math.sqrt(n)
''',
        loses=["test_kl_monte_carlo"]),
    # Stochastic procedure: one noise draw per example, shared by all latent dimensions.
    # Caught by test_reparameterize, hidden: the two latent dimensions must be uncorrelated.
    WrongAnswer(
        "reparam_one_eps_per_example",
        cell="reparameterize",
        code='''def reparameterize(mu, log_var, eps=None):
    if eps is None:
        eps = torch.randn(mu.shape[0], 1, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * log_var) * eps
''',
        loses=["test_reparameterize"]),
    # Numerical stability: the Bernoulli log-likelihood written by hand with log(sigmoid); nan at logits of +-40.
    # Caught by test_negative_elbo, hidden: float32 logits of +-30..+-100.
    WrongAnswer(
        "elbo_hand_written_log_sigmoid",
        cell="negative_elbo",
        code='''def negative_elbo(x, x_logits, mu, log_var):
    p = torch.sigmoid(x_logits)
    reconstruction = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1)
    return (reconstruction + kl_to_standard_normal(mu, log_var)).mean()
''',
        loses=["test_negative_elbo"]),
    # Stochastic procedure: one noise vector with the shape of a single point, shared by the whole batch.
    # Caught by test_diffusion_loss, hidden: "every example in a batch needs its own noise".
    WrongAnswer(
        "loss_one_eps_for_the_batch",
        cell="diffusion_loss",
        code='''def diffusion_loss(eps_model, x0, alpha_bars, t=None, eps=None):
    if t is None:
        t = torch.randint(0, len(alpha_bars), (x0.shape[0],), device=x0.device)
    if eps is None:
        eps = torch.randn(1, *x0.shape[1:], device=x0.device).expand_as(x0)
    x_t = q_sample(x0, t, eps, alpha_bars)
    return F.mse_loss(eps_model(x_t, t), eps)
''',
        loses=["test_diffusion_loss"]),
    # Stochastic procedure: fresh z at every step, but one draw for the whole batch (shape of one sample).
    # Caught by test_sample, hidden: "every example needs its own noise z at every step".
    WrongAnswer(
        "sample_z_shared_by_batch",
        cell="sample",
        code='''@torch.no_grad()
def sample(eps_model, shape, betas, alphas, alpha_bars, keep=()):
    x = torch.randn(shape, device=betas.device)
    kept = {}
    for t in reversed(range(len(betas))):
        if t in keep:
            kept[t] = x.clone()
        z = torch.randn(shape[1:], device=betas.device)
        x = p_sample(eps_model, x, t, betas, alphas, alpha_bars, z)
    return x, kept
''',
        loses=["test_sample"]),
]
ALL_WRONG += NEW_WRONG + NEW_EXTRA

# The mistakes the issue names: log sigma^2 as sigma; a missing 1/2 or flipped sign in the KL; N-1 in the MLE;
# alpha_t for alpha_bar_t; a missing square root in q_sample; off-by-one timesteps; noise at t = 0;
# the wrong coefficient on the predicted noise.
CORE = [
    "reparam_logvar_as_sigma",
    "kl_prior_missing_half",
    "kl_gaussian_logdet_sign_flipped",
    "fit_cov_divides_by_n_minus_1",
    "p_sample_alpha_for_alpha_bar",
    "q_sample_missing_sqrt",
    "q_sample_t_minus_1",
    "p_sample_t_minus_1",
    "p_sample_noise_at_t0",
    "p_sample_wrong_eps_coefficient",
]
WRONG = [w for w in ALL_WRONG if w.name in CORE] + NEW_WRONG
EXTRA_WRONG = [w for w in ALL_WRONG if w not in WRONG]
assert len(WRONG) == len(CORE) + len(NEW_WRONG)
