"""What every FKS host gets first, whatever its roles: pre-flight, layout, base packages."""
