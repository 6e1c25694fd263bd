#!/usr/bin/env python3
"""A GCIF ministry node in Python, written from proto/gcif/v1/gcif.proto alone.

It shows what a third-party node needs to join the exchange:

* serve `gcif.v1.Ministry/Deliver`, acknowledge each delivery once it is kept,
  and discard redeliveries by `message_id` (answering OK, `duplicate = true`);
* register its address with `Hub.Register` and renew it every
  `lease_seconds / 3`, retrying with backoff while the hub is unreachable;
* publish with `Hub.Publish`, retrying with the same `message_id` (and the
  same content) as the status table in the .proto says, until a receipt or a
  final error.

With `--tls DIR` (the certificates `gcif-sim certs init DIR` made) it speaks
mutual TLS both ways: it shows DIR/CODE.pem to the hub, trusts only
DIR/ca.pem, and serves Ministry over TLS, asking every caller for a
certificate (grpc.ssl_server_credentials with require_client_auth).

The Python stubs are generated at start-up with grpc_tools.protoc into a
temporary directory, from the repository's proto/ directory (or --proto DIR),
so no generated code is kept anywhere.

Standard output carries one JSON object per line (flushed at once):
  {"event":"listening","port":P,"address":"http://127.0.0.1:P"}
  {"event":"registered","pending":N}
  {"event":"delivered","msg":ID,"from":ORIGINATOR,"kind":K,"attempt":N,"redacted":[...]}
  {"event":"duplicate","msg":ID,"attempt":N}
  {"event":"published","msg":ID,"recipients":[...],"duplicate":B}
  {"event":"refused","msg":ID,"code":CODE,"reason":TEXT}
  {"event":"register_refused","code":CODE,"reason":TEXT}
  {"event":"probe","name":NAME,"code":CODE,"reason":TEXT}
  {"event":"stopped","deliveries":N}
Diagnostics (retries, probe expectations) go to standard error.

Requires Python 3.9+, grpcio, grpcio-tools and protobuf:
  pip install -r examples/python-node/requirements.txt
"""

import argparse
import atexit
import calendar
import concurrent.futures
import datetime
import importlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time

PROG = "gcif_node"
REQUIREMENTS = "pip install -r examples/python-node/requirements.txt"

MIB = 1 << 20
# Servers of the exchange decode requests of up to 4 MiB (see the .proto).
MAX_REQUEST_BYTES = 4 * MIB
# Large enough that the client itself sends the over-4-MiB probe.
CLIENT_MAX_SEND_BYTES = 16 * MIB
# Every publish and registration gets a deadline (gcif-sim's nodes use 10 s).
CALL_DEADLINE_S = 10.0
# Retry backoff of this node towards the hub: 250 ms doubling to 5 s.
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 5.0
# The status table of gcif.proto.
FINAL_CODES = frozenset(
    ["INVALID_ARGUMENT", "PERMISSION_DENIED", "ALREADY_EXISTS", "FAILED_PRECONDITION", "OUT_OF_RANGE"]
)
PEER_DOWN_CODES = frozenset(["UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "UNIMPLEMENTED"])
# Everything else (RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, ...): retry this call alone,
# after the hub's retry hint when it gives one (a busy hub: see Backpressure).
RETRY_PUSHBACK = "grpc-retry-pushback-ms"


def pushback_s(error):
    """The retry hint of an error status, in seconds, or None."""
    try:
        trailers = error.trailing_metadata() or ()
    except Exception:  # not a call error: no trailers to read
        return None
    for key, value in trailers:
        if key == RETRY_PUSHBACK:
            try:
                return max(int(value), 0) / 1000.0
            except ValueError:
                return None
    return None

# A plausible place in each participant's country, for the caravan alerts.
PLACES = {
    "SV": ("San Salvador", 13.6929, -89.2182),
    "GT": ("Tecun Uman", 14.6784, -92.1434),
    "HN": ("San Pedro Sula", 15.5042, -88.0250),
    "MX": ("Tapachula", 14.9060, -92.2630),
    "US": ("El Paso", 31.7619, -106.4850),
}

_emit_lock = threading.Lock()

# SIGINT/SIGTERM, caught from the start so that even an early signal ends the
# node cleanly (exit 0, temporary stubs removed).
_signalled = threading.Event()
_signal_name = []


def _on_signal(signum, _frame):
    if not _signal_name:
        _signal_name.append(signal.Signals(signum).name)
    _signalled.set()


def emit(record):
    """Writes one JSON line to standard output and flushes it."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    with _emit_lock:
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):
            pass


def note(message):
    """A diagnostic line on standard error."""
    with _emit_lock:
        try:
            sys.stderr.write("%s: %s\n" % (PROG, message))
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def default_proto_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "proto"))


def positive_int(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="gcif_node.py",
        description="A GCIF ministry node: serves gcif.v1.Ministry/Deliver, registers with\n"
        "the hub (Hub.Register) and publishes caravan alerts (Hub.Publish).\n"
        "Prints one JSON line per event on standard output.",
        epilog="Needs grpcio, grpcio-tools and protobuf:\n  " + REQUIREMENTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--hub", default="http://127.0.0.1:50051", metavar="URL",
                   help="the hub's gcif.v1.Hub service (default: %(default)s)")
    p.add_argument("--ministry", required=True, metavar="CODE",
                   help="this node's ministry code, e.g. SV-MJSP")
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="where to serve gcif.v1.Ministry; port 0 picks a free one "
                   "(default: %(default)s)")
    p.add_argument("--advertise", metavar="URL",
                   help="the address to register (default: http://HOST:PORT of --listen, "
                   "127.0.0.1 for a wildcard host)")
    p.add_argument("--proto", metavar="DIR", default=None,
                   help="directory holding gcif/v1/gcif.proto (default: the repository's "
                   "proto/, %s)" % default_proto_dir())
    p.add_argument("--publish-caravan", action="append", default=[], metavar="ID",
                   help="once registered, publish a caravan alert with this message id; "
                   "repeat or separate with commas")
    p.add_argument("--probe", action="store_true",
                   help="once registered, send the hub deliberately bad requests and print "
                   "the status code of each")
    p.add_argument("--tls", metavar="DIR", default=None,
                   help="mutual TLS with the certificates `gcif-sim certs init DIR` made: show "
                   "DIR/CODE.pem (and DIR/CODE.key), trust only DIR/ca.pem, serve Ministry over "
                   "TLS asking the hub for its certificate")
    p.add_argument("--cert", metavar="FILE", default=None,
                   help="with --tls: show this certificate (its key is FILE with .key) instead "
                   "of DIR/CODE.pem")
    p.add_argument("--exit-after-deliveries", type=positive_int, metavar="N", default=None,
                   help="exit 0 after N first deliveries (redeliveries do not count)")
    args = p.parse_args(argv)
    args.ministry = args.ministry.strip().upper()
    if not args.ministry:
        p.error("--ministry may not be empty")
    ids = []
    for item in args.publish_caravan:
        ids.extend(part.strip() for part in item.split(",") if part.strip())
    args.publish_caravan = ids
    if args.cert and not args.tls:
        p.error("--cert needs --tls DIR")
    if args.listen.rpartition(":")[0] == "" or not args.listen.rpartition(":")[2].isdigit():
        p.error("--listen wants HOST:PORT, e.g. 127.0.0.1:0")
    return args


def hub_target(url):
    """`http://host:port` -> (`host:port`, secure?)."""
    url = url.strip()
    secure = False
    for scheme in ("http://", "https://", "grpc://"):
        if url.lower().startswith(scheme):
            secure = scheme == "https://"
            url = url[len(scheme):]
            break
    return url.rstrip("/"), secure


def is_loopback(target):
    host = target.rpartition(":")[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


# ---------------------------------------------------------------------------
# Stubs, generated at start-up
# ---------------------------------------------------------------------------


def generate_stubs(proto_dir):
    """Runs grpc_tools.protoc on gcif/v1/gcif.proto into a temporary directory
    and imports the result. Returns (gcif_pb2, gcif_pb2_grpc)."""
    import grpc_tools
    from grpc_tools import protoc

    source = os.path.join(proto_dir, "gcif", "v1", "gcif.proto")
    if not os.path.isfile(source):
        note("no gcif/v1/gcif.proto under %s (give the proto directory with --proto DIR)" % proto_dir)
        sys.exit(2)
    out = tempfile.mkdtemp(prefix="pynode-gcif-stubs-")
    atexit.register(shutil.rmtree, out, True)
    # The well-known types (google/protobuf/timestamp.proto) ship with grpc_tools.
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main([
        "grpc_tools.protoc",
        "--proto_path=" + proto_dir,
        "--proto_path=" + well_known,
        "--python_out=" + out,
        "--grpc_python_out=" + out,
        os.path.join("gcif", "v1", "gcif.proto"),
    ])
    if rc != 0:
        note("grpc_tools.protoc failed on %s (exit %s)" % (source, rc))
        sys.exit(2)
    sys.path.insert(0, out)
    importlib.invalidate_caches()
    pb2 = importlib.import_module("gcif.v1.gcif_pb2")
    pb2_grpc = importlib.import_module("gcif.v1.gcif_pb2_grpc")
    return pb2, pb2_grpc


# ---------------------------------------------------------------------------
# Retry policy
# ---------------------------------------------------------------------------


class Backoff:
    """Exponential backoff with a little jitter."""

    def __init__(self, first=BACKOFF_FIRST_S, cap=BACKOFF_MAX_S):
        self.first, self.cap, self.current = first, cap, first

    def next(self):
        wait = self.current * random.uniform(0.8, 1.0)
        self.current = min(self.current * 2, self.cap)
        return wait

    def reset(self):
        self.current = self.first


def read_tls(args):
    """(ca, cert, key) as bytes, from `--tls DIR` (and `--cert FILE`)."""
    cert_path = args.cert or os.path.join(args.tls, args.ministry + ".pem")
    key_path = os.path.splitext(cert_path)[0] + ".key"
    files = []
    for path in (os.path.join(args.tls, "ca.pem"), cert_path, key_path):
        try:
            with open(path, "rb") as f:
                files.append(f.read())
        except OSError as e:
            note("--tls: cannot read %s (%s); make the files with `gcif-sim certs init %s`"
                 % (path, e.strerror, args.tls))
            sys.exit(2)
    return tuple(files)


def code_name(error):
    """The status code of a failed call, as the .proto spells it."""
    code = error.code() if hasattr(error, "code") else None
    return code.name if code is not None else "UNKNOWN"


def details(error):
    text = error.details() if hasattr(error, "details") else None
    return text if text else str(error)


# ---------------------------------------------------------------------------
# grpc.health.v1.Health, by hand (grpcio-health-checking is not a dependency)
# ---------------------------------------------------------------------------


def _read_varint(data, i):
    value, shift = 0, 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _decode_health_request(data):
    """HealthCheckRequest { string service = 1; } -> the service name."""
    i, service = 0, ""
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, i = _read_varint(data, i)
        elif wire_type == 1:
            i += 8
        elif wire_type == 2:
            n, i = _read_varint(data, i)
            if field == 1:
                service = bytes(data[i:i + n]).decode("utf-8")
            i += n
        elif wire_type == 5:
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wire_type)
    return service


def _encode_health_response(status):
    """HealthCheckResponse { ServingStatus status = 1; }"""
    return b"" if status == 0 else bytes([0x08, status])


class Health:
    SERVING, NOT_SERVING, SERVICE_UNKNOWN = 1, 2, 3

    def __init__(self, grpc, services):
        self.grpc = grpc
        self.cond = threading.Condition()
        self.status = {name: self.SERVING for name in services}

    def set_all(self, status):
        with self.cond:
            for name in self.status:
                self.status[name] = status
            self.cond.notify_all()

    def check(self, service, context):
        with self.cond:
            status = self.status.get(service)
        if status is None:
            context.abort(self.grpc.StatusCode.NOT_FOUND, "unknown service %r" % service)
        return status

    def watch(self, service, context):
        last = None
        while context.is_active():
            with self.cond:
                status = self.status.get(service, self.SERVICE_UNKNOWN)
                if status == last:
                    self.cond.wait(1.0)
                    continue
            last = status
            yield status

    def handler(self):
        grpc = self.grpc
        return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(
                self.check,
                request_deserializer=_decode_health_request,
                response_serializer=_encode_health_response),
            "Watch": grpc.unary_stream_rpc_method_handler(
                self.watch,
                request_deserializer=_decode_health_request,
                response_serializer=_encode_health_response),
        })


# ---------------------------------------------------------------------------
# The node
# ---------------------------------------------------------------------------


class Node:
    def __init__(self, grpc, pb, pb_grpc, args):
        self.grpc, self.pb, self.pb_grpc, self.args = grpc, pb, pb_grpc, args
        self.tls = read_tls(args) if args.tls else None
        self.ministry = args.ministry
        # message_id -> (Envelope, [redacted field paths]): what this node keeps.
        self.inbox = {}
        self.inbox_lock = threading.Lock()
        self.first_deliveries = 0
        self.stopping = threading.Event()  # set once the node is shutting down
        self.quit = threading.Event()  # set to make the main thread stop the node
        self.quit_reason = None
        self.exit_code = 0
        self.ready = threading.Event()  # the hub knows our address
        self.work_done = threading.Event()  # publishes and probes are over
        self.server = None
        self.health = None
        self.channel = None
        self.hub = None
        self.address = None

    def request_quit(self, reason, code=0):
        if not self.quit.is_set():
            self.quit_reason, self.exit_code = reason, code
            self.quit.set()

    # ----- gcif.v1.Ministry ------------------------------------------------

    def deliver(self, request, context):
        invalid = self.grpc.StatusCode.INVALID_ARGUMENT
        if request.recipient.strip() != self.ministry:
            context.abort(invalid, "this node is %s; the copy is for %r" % (self.ministry, request.recipient))
        if not request.HasField("envelope"):
            context.abort(invalid, "envelope is missing")
        envelope = request.envelope
        msg = envelope.message_id
        if not msg.strip():
            context.abort(invalid, "envelope.message_id is empty")
        redacted = [r.field for r in request.redacted]
        limit = self.args.exit_after_deliveries
        # One lock around check, keep and print: a redelivery racing the first
        # copy is discarded, and its line never comes before the first's.
        with self.inbox_lock:
            duplicate = msg in self.inbox
            if duplicate:
                emit({"event": "duplicate", "msg": msg, "attempt": request.attempt})
            else:
                if self.quit.is_set():
                    # Going down: UNAVAILABLE makes the hub keep the message and
                    # pause deliveries to this node until it registers again.
                    context.abort(self.grpc.StatusCode.UNAVAILABLE, "%s is shutting down" % self.ministry)
                # Kept before the OK goes out, since an OK is final. (A real node
                # would write it to durable storage here.)
                self.inbox[msg] = (envelope, redacted)
                self.first_deliveries += 1
                emit({
                    "event": "delivered",
                    "msg": msg,
                    "from": envelope.originator,
                    "kind": self.kind_name(envelope),
                    "attempt": request.attempt,
                    "redacted": redacted,
                })
                if limit is not None and self.first_deliveries >= limit:
                    self.request_quit("%d deliveries" % self.first_deliveries)
        return self.pb.DeliveryAck(message_id=msg, duplicate=duplicate)

    def kind_name(self, envelope):
        try:
            name = self.pb.Kind.Name(envelope.kind)
        except ValueError:
            name = ""
        if name.startswith("KIND_") and name != "KIND_UNSPECIFIED":
            return name[len("KIND_"):].lower()
        return envelope.WhichOneof("payload") or "unspecified"

    def start_server(self):
        grpc = self.grpc
        node = self

        class MinistryService(self.pb_grpc.MinistryServicer):
            def Deliver(self, request, context):
                return node.deliver(request, context)

        self.server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="deliver"),
            options=[
                ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                ("grpc.max_send_message_length", MAX_REQUEST_BYTES),
                # gRPC Python sets SO_REUSEPORT by default, which would let a second
                # node bind the same port and take half of the deliveries.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.pb_grpc.add_MinistryServicer_to_server(MinistryService(), self.server)
        self.health = Health(grpc, ["", "gcif.v1.Ministry"])
        self.server.add_generic_rpc_handlers((self.health.handler(),))
        try:
            if self.tls:
                ca, cert, key = self.tls
                # Only the hub delivers: ask every caller for a certificate of
                # the same authority (the Rust nodes also check it is the hub's).
                credentials = grpc.ssl_server_credentials(
                    [(key, cert)], root_certificates=ca, require_client_auth=True)
                port = self.server.add_secure_port(self.args.listen, credentials)
            else:
                port = self.server.add_insecure_port(self.args.listen)
        except RuntimeError as e:
            port, why = 0, str(e)
        else:
            why = "address in use or not local?"
        if not port:
            note("cannot listen on %s (%s)" % (self.args.listen, why))
            sys.exit(2)
        self.server.start()
        host = self.args.listen.rpartition(":")[0]
        if host in ("", "0.0.0.0", "::", "[::]", "*"):
            host = "127.0.0.1"
        scheme = "https" if self.tls else "http"
        self.address = self.args.advertise or "%s://%s:%d" % (scheme, host, port)
        emit({"event": "listening", "port": port, "address": self.address})

    # ----- the hub ---------------------------------------------------------

    def connect_hub(self):
        grpc = self.grpc
        target, secure = hub_target(self.args.hub)
        options = [
            ("grpc.max_send_message_length", CLIENT_MAX_SEND_BYTES),
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
            # Reconnect promptly once the hub is back (gRPC's default grows to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]
        if is_loopback(target):
            options.append(("grpc.enable_http_proxy", 0))
        if self.tls:
            ca, cert, key = self.tls
            credentials = grpc.ssl_channel_credentials(
                root_certificates=ca, private_key=key, certificate_chain=cert)
            return grpc.secure_channel(target, credentials, options=options)
        if secure:
            return grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
        return grpc.insecure_channel(target, options=options)

    def register_loop(self):
        try:
            self._register_loop()
        except Exception as e:  # a bug here must not leave the node silently unregistered
            note("register loop failed: %r" % (e,))
            self.request_quit("register loop failed", 1)

    def _register_loop(self):
        """Hub.Register at start and every lease_seconds / 3; backoff while the
        hub is unreachable; stops on a final refusal."""
        backoff = Backoff()
        registered_once = False
        failing = False
        while not self.stopping.is_set():
            request = self.pb.RegisterRequest(ministry=self.ministry, address=self.address)
            try:
                reply = self.hub.Register(request, timeout=CALL_DEADLINE_S)
            except self.grpc.RpcError as e:
                if self.stopping.is_set():
                    return
                code = code_name(e)
                if code in FINAL_CODES:
                    emit({"event": "register_refused", "code": code, "reason": details(e)})
                    if code == "FAILED_PRECONDITION":
                        # The hub's addresses are fixed: it already knows where we are.
                        note("the hub takes no registrations (%s); serving at its fixed address" % details(e))
                        self.ready.set()
                    elif not self.ready.is_set():
                        note("registration refused (%s: %s); exiting" % (code, details(e)))
                        self.request_quit("registration refused", 1)
                    else:
                        note("re-registration refused (%s: %s); no longer renewing" % (code, details(e)))
                    return
                wait = backoff.next()
                note("register: %s (%s); retrying in %.2f s" % (code, details(e), wait))
                failing = True
                self.stopping.wait(wait)
                continue
            backoff.reset()
            if not registered_once:
                registered_once = True
                emit({"event": "registered", "pending": reply.pending})
                self.ready.set()
            elif failing:
                note("registered again (%d pending)" % reply.pending)
            failing = False
            self.stopping.wait(max(reply.lease_seconds, 3) / 3.0)

    def caravan_alert(self, msg, originator=None, place_name=None, country=None,
                      created=None, status=None, handling=None):
        pb = self.pb
        prefix = self.ministry.split("-", 1)[0]
        home = prefix if prefix in PLACES else "SV"
        name, lat, lon = PLACES[home]
        if created is None:
            # Kept to the millisecond, as the hub keeps it, so a retry is the same message.
            ms = int(time.time() * 1000)
            created = _timestamp(ms)
        return pb.Envelope(
            message_id=msg,
            originator=self.ministry if originator is None else originator,
            created=created,
            status=pb.STATUS_EXERCISE if status is None else status,
            message_type=pb.MESSAGE_TYPE_ALERT,
            handling=pb.HANDLING_GREEN if handling is None else handling,
            kind=pb.KIND_CARAVAN_ALERT,
            caravan_alert=pb.CaravanAlert(
                caravan_id="CAR-" + msg,
                location=pb.Place(
                    name=name if place_name is None else place_name,
                    country=home if country is None else country,
                    lat=lat,
                    lon=lon,
                ),
                estimated_size=1200,
            ),
        )

    def publish(self, msg, envelope):
        """Hub.Publish with the status table's retries; one JSON line at the end.
        Every attempt sends the same envelope: the hub recognises a retry by its
        id and content (`duplicate = true`) and refuses the same id with other
        content (ALREADY_EXISTS)."""
        backoff = Backoff()
        attempt = 0
        while not self.stopping.is_set():
            attempt += 1
            request = self.pb.PublishRequest(envelope=envelope, attempt=attempt)
            try:
                receipt = self.hub.Publish(request, timeout=CALL_DEADLINE_S)
            except self.grpc.RpcError as e:
                if self.stopping.is_set():
                    return
                code = code_name(e)
                if code in FINAL_CODES:
                    emit({"event": "refused", "msg": msg, "code": code, "reason": details(e)})
                    return
                hint = pushback_s(e) if code == "RESOURCE_EXHAUSTED" else None
                wait = hint if hint is not None else backoff.next()
                note("publish %s attempt %d: %s (%s); retrying in %.2f s"
                     % (msg, attempt, code, details(e), wait))
                self.stopping.wait(wait)
                continue
            emit({
                "event": "published",
                "msg": msg,
                "recipients": list(receipt.recipients),
                "duplicate": receipt.duplicate,
            })
            return

    # ----- probes ----------------------------------------------------------

    def probes(self):
        """(name, expected codes, call) for each deliberately bad request."""
        pb = self.pb
        stamp = int(time.time() * 1000)
        own = lambda i: "%s-PROBE-%d-%02d" % (self.ministry, stamp, i)  # noqa: E731
        other = "HN-SEDS" if self.ministry == "GT-MINGOB" else "GT-MINGOB"
        year_3000 = _timestamp(calendar.timegm(datetime.datetime(3000, 1, 1).timetuple()) * 1000)

        def publish(envelope=None):
            request = pb.PublishRequest(attempt=1)
            if envelope is not None:
                request.envelope.CopyFrom(envelope)
            return lambda hub: hub.Publish(request, timeout=CALL_DEADLINE_S)

        return [
            ("missing_envelope", ["INVALID_ARGUMENT"], publish()),
            ("unknown_originator", ["PERMISSION_DENIED"],
             publish(self.caravan_alert("XX-FOO-PROBE-%d" % stamp, originator="XX-FOO"))),
            ("gcif_originator", ["PERMISSION_DENIED"],
             publish(self.caravan_alert("GCIF-PROBE-%d" % stamp, originator="GCIF"))),
            ("foreign_id_space", ["PERMISSION_DENIED"],
             publish(self.caravan_alert("%s-000777" % other))),
            ("bad_country", ["INVALID_ARGUMENT"],
             publish(self.caravan_alert(own(1), country="ZZ"))),
            ("created_in_year_3000", ["INVALID_ARGUMENT"],
             publish(self.caravan_alert(own(2), created=year_3000))),
            ("unspecified_enum", ["INVALID_ARGUMENT"],
             publish(self.caravan_alert(own(3), status=pb.STATUS_UNSPECIFIED))),
            ("envelope_over_1mib", ["INVALID_ARGUMENT"],
             publish(self.caravan_alert(own(4), place_name="x" * 1100000))),
            ("request_over_4mib", ["RESOURCE_EXHAUSTED"],
             publish(self.caravan_alert(own(5), place_name="x" * (5 * MIB)))),
            ("register_unknown_ministry", ["PERMISSION_DENIED"],
             lambda hub: hub.Register(pb.RegisterRequest(ministry="XX-FOO", address=self.address),
                                      timeout=CALL_DEADLINE_S)),
            ("red_without_recipients", ["PERMISSION_DENIED"],
             publish(self.caravan_alert(own(6), handling=pb.HANDLING_RED))),
            ("reshare_without_id", ["INVALID_ARGUMENT"],
             lambda hub: hub.Reshare(pb.ReshareRequest(by=self.ministry, to=other),
                                     timeout=CALL_DEADLINE_S)),
            ("reshare_unknown_message", ["NOT_FOUND"],
             lambda hub: hub.Reshare(pb.ReshareRequest(message_id=own(7), by=self.ministry, to=other),
                                     timeout=CALL_DEADLINE_S)),
        ] + (self.identity_probes(publish, other, stamp) if self.tls else [])

    def identity_probes(self, publish, other, stamp):
        """With --tls: calls that speak for another ministry than our certificate's."""
        pb = self.pb
        return [
            ("publish_as_another_ministry", ["PERMISSION_DENIED"],
             publish(self.caravan_alert("%s-PROBE-%d" % (other, stamp), originator=other))),
            ("register_as_another_ministry", ["PERMISSION_DENIED"],
             lambda hub: hub.Register(pb.RegisterRequest(ministry=other, address=self.address),
                                      timeout=CALL_DEADLINE_S)),
            ("reshare_as_another_ministry", ["PERMISSION_DENIED"],
             lambda hub: hub.Reshare(pb.ReshareRequest(message_id="%s-000001" % other, by=other,
                                                       to=self.ministry),
                                     timeout=CALL_DEADLINE_S)),
        ]

    def run_probes(self):
        # A channel of their own, so the oversized requests touch nothing else.
        channel = self.connect_hub()
        hub = self.pb_grpc.HubStub(channel)
        mismatches = 0
        probes = self.probes()
        try:
            for name, expected, call in probes:
                if self.stopping.is_set():
                    return
                try:
                    call(hub)
                    code, reason = "OK", "the hub accepted it"
                except self.grpc.RpcError as e:
                    code, reason = code_name(e), details(e)
                emit({"event": "probe", "name": name, "code": code, "reason": reason})
                if code not in expected:
                    mismatches += 1
                    note("probe %s: got %s, expected %s" % (name, code, " or ".join(expected)))
            note("probes done: %d of %d answered as the contract says"
                 % (len(probes) - mismatches, len(probes)))
        finally:
            channel.close()

    def work(self):
        """Publishes and probes, once the hub knows our address."""
        try:
            while not self.ready.wait(0.2):
                if self.stopping.is_set():
                    return
            ids = self.args.publish_caravan
            if ids:
                # One envelope per id, so an id given twice is the same message twice.
                envelopes = {}
                for msg in ids:
                    envelopes.setdefault(msg, self.caravan_alert(msg))
                # Each publish retries on its own, so one failing never holds up the others.
                workers = min(16, len(ids))
                with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="publish") as pool:
                    list(pool.map(lambda msg: self.publish(msg, envelopes[msg]), ids))
            if self.args.probe:
                self.run_probes()
        except Exception as e:  # a bug here must not take the node down silently
            note("publish/probe failed: %r" % (e,))
        finally:
            self.work_done.set()

    # ----- life cycle ------------------------------------------------------

    def run(self):
        self.start_server()
        self.channel = self.connect_hub()
        self.hub = self.pb_grpc.HubStub(self.channel)

        threading.Thread(target=self.register_loop, name="register", daemon=True).start()
        threading.Thread(target=self.work, name="work", daemon=True).start()

        while not self.quit.wait(0.2):
            if _signalled.is_set():
                self.request_quit(_signal_name[0])
        if self.quit_reason and self.quit_reason.endswith("deliveries"):
            # Let our own publishes and probes answer before leaving (bounded).
            deadline = time.monotonic() + 15.0
            while time.monotonic() < deadline and not _signalled.is_set():
                if self.work_done.wait(0.2):
                    break
        note("stopping (%s)" % self.quit_reason)
        self.stopping.set()
        self.health.set_all(Health.NOT_SERVING)
        self.server.stop(grace=2.0).wait()
        self.channel.close()
        emit({"event": "stopped", "deliveries": self.first_deliveries})
        return self.exit_code


def _timestamp(ms):
    from google.protobuf import timestamp_pb2

    return timestamp_pb2.Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1000000)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        import grpc
        import grpc_tools.protoc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        note("cannot import %s (%s). Install the dependencies, e.g. in a venv:\n"
             "    python3 -m venv .venv && . .venv/bin/activate && %s"
             % (getattr(e, "name", None) or "grpc", e, REQUIREMENTS))
        return 2
    proto_dir = os.path.abspath(args.proto or default_proto_dir())
    pb, pb_grpc = generate_stubs(proto_dir)
    if _signalled.is_set():
        return 0
    return Node(grpc, pb, pb_grpc, args).run()


if __name__ == "__main__":
    sys.exit(main())
