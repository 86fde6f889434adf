"""A pyinfra run of fks-infra: the validated plan, the run lock, the stages in order."""
