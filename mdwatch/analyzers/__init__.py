"""Page → findings. Each module holds one concern; ``registry`` lists them in order."""
