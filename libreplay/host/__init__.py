"""This machine: the doctor's checks and fixes, and the Debian base image."""
