"""The Pulumi shell: ComponentResources that turn a validated plan into resources."""
