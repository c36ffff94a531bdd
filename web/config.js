// Where the dashboard finds the API. Empty means the same origin (colab-backup serve); a static host sets the API URL here.
window.COLAB_BACKUP_CONFIG = { apiBase: "" };
