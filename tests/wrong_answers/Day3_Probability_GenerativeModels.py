"""Realistic mistakes in the Day 3 lab that the tests must punish.

ALL_WRONG lists every mistake we checked (each was verified to lose points on its `loses` cells).
WRONG, the set the test suite grades, is the subset the issue names — kept small because every
entry is one more autograded submission (~30 s each).
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
        loses=["test_sample_gaussian"]),
    # sample_gaussian: elementwise square root of Sigma (ignores correlations)
    WrongAnswer(
        "sample_sqrt_diagonal",
        cell="sample_gaussian",
        code='''def sample_gaussian(mu, Sigma, n):
    eps = torch.randn(n, mu.shape[0], dtype=mu.dtype)
    return mu + eps * torch.sqrt(torch.diagonal(Sigma))
''',
        loses=["test_sample_gaussian"]),
    # fit_gaussian: covariance divides by N-1 where the MLE is asked for
    WrongAnswer(
        "fit_cov_divides_by_n_minus_1",
        cell="fit_gaussian",
        code='''def fit_gaussian(X):
    mu_hat = X.mean(dim=0)
    Xc = X - mu_hat
    return mu_hat, Xc.T @ Xc / (X.shape[0] - 1)
''',
        loses=["test_fit_gaussian"]),
    # fit_gaussian: torch.cov with its default (unbiased) correction
    WrongAnswer(
        "fit_torch_cov_unbiased",
        cell="fit_gaussian",
        code='''def fit_gaussian(X):
    return X.mean(dim=0), torch.cov(X.T).reshape(X.shape[1], X.shape[1])
''',
        loses=["test_fit_gaussian"]),
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
        loses=["test_kl_gaussian"]),
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
        loses=["test_kl_gaussian"]),
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
        loses=["test_kl_gaussian"]),
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
        loses=["test_kl_monte_carlo"]),
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
        loses=["test_kl_monte_carlo"]),
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
        loses=["test_reparameterize"]),
    # reparameterize: the variance exp(log_var) used as sigma
    WrongAnswer(
        "reparam_variance_as_sigma",
        cell="reparameterize",
        code='''def reparameterize(mu, log_var, eps=None):
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(log_var) * eps
''',
        loses=["test_reparameterize"]),
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
        loses=["test_kl_to_standard_normal"]),
    # kl_to_standard_normal: the sign flipped (the usual -1/2 formula with the minus lost)
    WrongAnswer(
        "kl_prior_sign_flipped",
        cell="kl_to_standard_normal",
        code='''def kl_to_standard_normal(mu, log_var):
    return 0.5 * (1 + log_var - mu ** 2 - log_var.exp()).sum(dim=1)
''',
        loses=["test_kl_to_standard_normal"]),
    # kl_to_standard_normal: mean over latent dimensions instead of the sum
    WrongAnswer(
        "kl_prior_mean_over_dims",
        cell="kl_to_standard_normal",
        code='''def kl_to_standard_normal(mu, log_var):
    return 0.5 * (mu ** 2 + log_var.exp() - 1.0 - log_var).mean(dim=1)
''',
        loses=["test_kl_to_standard_normal"]),
    # negative_elbo: BCE averaged over pixels (the default reduction) instead of summed
    WrongAnswer(
        "elbo_bce_mean_over_pixels",
        cell="negative_elbo",
        code='''def negative_elbo(x, x_logits, mu, log_var):
    reconstruction = F.binary_cross_entropy_with_logits(x_logits, x)
    return reconstruction + kl_to_standard_normal(mu, log_var).mean()
''',
        loses=["test_negative_elbo"]),
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
        loses=["test_negative_elbo"]),
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
        loses=["test_linear_schedule"]),
    # linear_schedule: alpha_t returned where alpha_bar_t is meant
    WrongAnswer(
        "schedule_alpha_as_alpha_bar",
        cell="linear_schedule",
        code='''def linear_schedule(T=1000, beta_start=1e-4, beta_end=0.02):
    betas = torch.linspace(beta_start, beta_end, T)
    alphas = 1.0 - betas
    return betas, alphas, alphas.clone()
''',
        loses=["test_linear_schedule"]),
    # q_sample: square roots missing
    WrongAnswer(
        "q_sample_missing_sqrt",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab * x0 + (1.0 - ab) * eps
''',
        loses=["test_q_sample"]),
    # q_sample: square root missing on the noise coefficient only
    WrongAnswer(
        "q_sample_missing_sqrt_on_noise",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1.0 - ab) * eps
''',
        loses=["test_q_sample"]),
    # q_sample: timestep off by one (alpha_bars[t - 1], as if t ran 1..T)
    WrongAnswer(
        "q_sample_t_minus_1",
        cell="q_sample",
        code='''def q_sample(x0, t, eps, alpha_bars):
    ab = alpha_bars[t - 1].reshape(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps
''',
        loses=["test_q_sample"]),
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
        loses=["test_time_embedding"]),
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
        loses=["test_time_embedding"]),
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
        loses=["test_diffusion_loss"]),
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
        loses=["test_diffusion_loss"]),
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
        loses=["test_p_sample", "test_sample"]),
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
        loses=["test_p_sample"]),
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
        loses=["test_p_sample"]),
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
        loses=["test_p_sample"]),
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
        loses=["test_p_sample", "test_sample"]),
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
        loses=["test_sample"]),
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
        loses=["test_sample"]),
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
WRONG = [w for w in ALL_WRONG if w.name in CORE]
EXTRA_WRONG = [w for w in ALL_WRONG if w.name not in CORE]
assert len(WRONG) == len(CORE)
