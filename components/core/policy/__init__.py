"""Pure tailnet-policy core: building, merging, formatting. No Pulumi imports here."""
