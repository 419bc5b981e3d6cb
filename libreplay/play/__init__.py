"""The trainee's side: the run flow, the tmux workspace, the shell, transcripts, the debrief."""
