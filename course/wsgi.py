from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "course.settings")
application = get_wsgi_application()

# Every run happens in a worker forked from a warm process: start it with the server, so the
# first learner to press Run does not wait for it.
import logging  # noqa: E402

from lessons import engine  # noqa: E402

engine.start()
for line in engine.walls().lines:  # what the kernel walls each run in with, said at start
    if not line.endswith(": on"):
        logging.getLogger("course.walls").warning("Run wall %s", line)

# Draw every page once before the first request, so a room arriving together finds it ready.
from lessons.web import ready  # noqa: E402

ready.draw_every_page()
