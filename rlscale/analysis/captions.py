"""What each table of the report holds, shown above it (rlscale.analysis.report)."""

TABLE_CAPTIONS = {
    "data_to_threshold": "Env steps to reach each threshold J per config (all-seeds estimate, "
    "bootstrap mean/std/CI, fraction of bootstrap samples that reached J).",
    "best_batch_size": "Best batch size per (env, σ): grid argmin and bootstrap mean of argmins.",
    "best_learning_rate": "Best learning rate per (env, σ): grid argmin and bootstrap mean.",
    "proposed_hyperparameters": "B*(σ) and η*(σ) from the log-log fits, batch sizes rounded.",
    "data_efficiency_fits": "D_J(σ) = D_min + (β/σ)^α per threshold, with bootstrap CIs and the "
    "fit's status (ok, at_bound, unidentified) and reason.",
    "frontier": "Fitted data D_J(σ), compute C_J(σ) and budget F on the σ grid.",
    "frontier_points": "Observed configs on the data–compute Pareto frontier of each threshold.",
    "budget_optima": "Budget-optimal σ* per threshold (argmin of C + δD on the σ grid).",
    "thresholds": "The thresholds J of every env as used (an `auto` top resolved from the runs).",
    "iqm_final_return": "Cross-env IQM of the final return per σ (stratified bootstrap CI).",
    "p2_data_efficiency": "P2: data to threshold at the best batch size per (env, σ, N), fitted.",
    "p2_batch_size": "P2: bootstrap-mean best batch size per (env, σ, N) and B*(σ, N).",
    "p2_compute_optimal": "P2: compute-optimal (σ*, N*) per threshold for F = C + δD.",
    "p2_pooled_time": "P2, tasks pooled: m · mean over tasks of D/m_task per (σ, N, threshold "
    "index) with m_task each task's median and m their median, m · std over tasks, and the "
    "pooled D(σ, N) and OLS predictions.",
}
