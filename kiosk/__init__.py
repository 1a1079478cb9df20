"""The Kivy touchscreen app residents use, with a PIN-protected staff mode."""
