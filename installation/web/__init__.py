"""The operator's web panel (docs/web.md): a status page and remote for gallery technicians.

server.py   the aiohttp app (page + API), on a thread of its own with its own event loop
state.py    what the server knows about the show: newest status, thumbnail, history, log tail
actions.py  the five things the panel may ask, checked, as frozen commands
frame.py    what the show sends once a second, and the thumbnail JPEG
feed.py     the show's side: once a second a status and a thumbnail leave the main thread
link.py     show <-> supervisor over a private Unix socket, when the panel lives in --supervise
plot.py     the engagement picture (PNG), drawn with OpenCV
"""
