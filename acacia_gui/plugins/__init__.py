"""Handler plugins: the @handler decorator and the plugin-folder loader."""
