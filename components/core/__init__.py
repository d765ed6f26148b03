"""The pure core: the validated model, reading and checking config, the tailnet policy, the
access and fleet analysis. Plain Python: nothing here imports Pulumi."""
