"""The dashboard's app package: services (cached factories), state (URL + session), layout, cards, charts.

It lives below pages/ because Streamlit lists only pages/*.py as pages; page files import from here.
"""
