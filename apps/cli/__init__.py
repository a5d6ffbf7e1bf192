"""The `dexumi` console command."""
