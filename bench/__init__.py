"""The benchmark (run.py) and the settings and URLs its gunicorn serves."""
