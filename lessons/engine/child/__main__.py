"""`python -m lessons.engine.child FD`: the warm process, on the socket FD the server passed it
(lessons.engine.warm_process starts it)."""

import socket
import sys

from lessons.engine.child import warm

warm.serve(socket.socket(fileno=int(sys.argv[1])))
