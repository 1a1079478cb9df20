"""What the settings tests share: the smallest valid station file (test modules import it from here)."""

MINIMAL = """
[station]
id = "s1"
name = "城东社区人社便民服务站"
latitude = 26.58
longitude = 106.71
"""
