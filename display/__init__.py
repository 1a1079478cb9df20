"""The Kivy board player for station TVs and LED boards, and the reusable station card."""
