from envs.headless import prefer_headless_video

prefer_headless_video(force=True)  # tests never open a real window, display or not
