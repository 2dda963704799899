#!/usr/bin/python3
"""An outside integrator's client, end to end.

Written from the documentation alone (docs/protocol.md, codec/slotmatch.fbs and
ARCHITECTURE.md "Keys"), with Debian's python3-zmq and python3-flatbuffers and the Python
code `flatc --python` generates from codec/slotmatch.fbs. It uses no slotmatch library: it
runs the real `slotmatch keygen` and the real `slotmatchd`, and talks CurveZMQ to it over a
real TCP socket on this machine.

It proves that a gateway with a listed key can find and book, that a retry from a new
socket, encoded differently, gets the same booking (also when the first copy was the
`slotmatch` CLI's), that a reused request id with other
content is refused, and that a client without a key, or with a key nobody listed, gets no
reply at all (and that the server counts those failed handshakes).

Exit code 0: every check passed; 1: a check failed (the server's output is printed).
"""

import argparse
import ctypes
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import flatbuffers
import zmq

# The server's wall clock stands still at a time inside the demo region's schedules
# (2026-09-01 .. 2027-08-31), so that a find on the web channel, whose booking window for
# lerum-nybesok is 15 days, sees free slots. 2026-12-01 is a Tuesday: Anna Berg's
# lerum-nybesok hours are 13:00-14:00 that day.
CLOCK = "fixed:2026-12-01T07:00:00+01:00"
UNIT = "se2321000131-E000000000101"  # Vårdcentralen Lerum (tools/region/demo.yaml)
APPOINTMENT_TYPE = "lerum-nybesok"
PATIENT = "19121212-1212"  # Tolvan Tolvansson, Skatteverket's test personnummer
CLIENT = "outside-1"  # part of the retry key, so a restarted gateway must send it again

REQUEST_IDENTIFIER = b"SMW1"  # docs/protocol.md, "File identifiers"
REPLY_IDENTIFIER = b"SMR1"

START_TIMEOUT_S = 30
REPLY_TIMEOUT_MS = 5000
SILENCE_MS = 1500  # how long a refused client listens to be sure that no reply comes


class CheckFailed(Exception):
    """A check did not hold; the message says what happened."""


class Checks:
    """Counts the checks that pass, and stops at the first that does not."""

    def __init__(self):
        self.passed = 0

    def check(self, condition, summary, detail=""):
        if not condition:
            raise CheckFailed(f"{summary}: {detail}" if detail else summary)
        self.passed += 1
        print(f"ok {self.passed}: {summary}", flush=True)


# ------------------------------------------------------------------------------ the programs


def run_cli(slotmatch, args):
    """Runs the real `slotmatch` CLI and returns its JSON document."""
    done = subprocess.run([slotmatch, *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise CheckFailed(f"slotmatch {' '.join(args)} exited {done.returncode}: "
                          f"{done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def make_keys(slotmatch, key_dir):
    """Key pairs from the real keygen; returns each NAME's public key (Z85 text)."""
    return {
        name: run_cli(slotmatch, ["keygen", "--out", key_dir, "--name", name])["public_key"]
        for name in ("server", "gateway", "stranger")
    }


def write_clients_yaml(key_dir, gateway_public):
    """Lists the gateway's key only: the stranger's valid pair stays unknown to the server."""
    with open(os.path.join(key_dir, "clients.yaml"), "w", encoding="utf-8") as out:
        out.write("clients:\n"
                  f"  - key: \"{gateway_public}\"\n"
                  "    channel: web\n"
                  "    actor: outside-gateway\n"
                  "    name: Outside Gateway\n")


def die_with_parent():
    """Runs in the child before exec: the kernel sends it SIGTERM should this script die
    without its cleanup (ctest's timeout kills with SIGKILL), so no slotmatchd is left."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Server:
    """The real slotmatchd, its stdout and stderr in a log file."""

    def __init__(self, slotmatchd, region, key_dir, log_path):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            # `tcp://*:*`: every interface (allowed with --keys), and a free port that ZeroMQ
            # picks (port `*`; `:0` is not ZeroMQ's wildcard). The clients connect through
            # 127.0.0.1, so the traffic stays on this machine.
            self.process = subprocess.Popen(
                [slotmatchd, "--config", region, "--keys", key_dir, "--listen", "tcp://*:*",
                 "--clock", CLOCK],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent)

    def output(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def wait_for_endpoint(self):
        """The endpoint to connect to, once slotmatchd says where it listens."""
        prefix = "slotmatchd: listening on tcp://0.0.0.0:"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.output().splitlines():
                if line.startswith(prefix):
                    return "tcp://127.0.0.1:" + line[len(prefix):].strip()
            if self.process.poll() is not None:
                raise CheckFailed(f"slotmatchd exited {self.process.returncode} before listening")
            time.sleep(0.05)
        raise CheckFailed(f"slotmatchd did not say where it listens within {START_TIMEOUT_S} s")

    def stop(self):
        """SIGTERM, then a wait; SIGKILL only if it hangs (its shutdown is bounded, ~7 s)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ------------------------------------------------------------------------------ sockets


def read_key(path):
    """A key file holds 40 Z85 characters and a newline; pyzmq takes the Z85 text."""
    with open(path, "rb") as f:
        return f.read().strip()


def connect(context, endpoint, key_dir=None, name=None):
    """A DEALER; with `name`, a CurveZMQ client with the pair NAME.key/NAME.pub.

    The curve options must be set before connect: they decide the handshake."""
    socket = context.socket(zmq.DEALER)
    socket.linger = 0  # a refused client's unsent request must not hold up the exit
    if name is not None:
        socket.curve_secretkey = read_key(os.path.join(key_dir, name + ".key"))
        socket.curve_publickey = read_key(os.path.join(key_dir, name + ".pub"))
        socket.curve_serverkey = read_key(os.path.join(key_dir, "server.pub"))
    socket.connect(endpoint)
    return socket


def receive(socket, timeout_ms):
    """The reply body (the last frame: a DEALER that sends [body] gets [reply]), or None."""
    if not socket.poll(timeout_ms, zmq.POLLIN):
        return None
    return socket.recv_multipart()[-1]


def call(socket, request):
    socket.send(request)
    reply = receive(socket, REPLY_TIMEOUT_MS)
    if reply is None:
        raise CheckFailed(f"no reply within {REPLY_TIMEOUT_MS} ms")
    return reply


# ------------------------------------------------------------------------------ requests

# The generated modules are imported in main(), once --generated is on sys.path.
wire = None


def import_generated(generated_dir):
    """Imports the code `flatc --python` generated (package slotmatch.wire)."""
    global wire
    sys.path.insert(0, generated_dir)
    modules = ["Actor", "Book", "BookingList", "BookingReply", "Channel", "ErrorCode", "Find",
               "GetStats", "Op", "Operation", "ReplyBody", "ReplyMessage", "RequestMessage",
               "SlotList", "StatsReply"]
    wire = argparse.Namespace(**{
        m: importlib.import_module(f"slotmatch.wire.{m}") for m in modules})


def build_find(builder):
    # Children first: FlatBuffers builds strings before the table that points at them.
    unit = builder.CreateString(UNIT)
    appointment_type = builder.CreateString(APPOINTMENT_TYPE)
    wire.Find.FindStart(builder)
    wire.Find.FindAddUnit(builder, unit)
    wire.Find.FindAddAppointmentType(builder, appointment_type)
    wire.Find.FindAddLimit(builder, 1)
    return wire.Operation.Operation.Find, wire.Find.FindEnd(builder)


def build_book(builder, slot_id, verbose):
    """A Book of `slot_id`. `verbose` encodes the same content otherwise: the patient string
    written before the table starts is the only child either way, but the fields go in in
    the opposite order and the default from_waitlist is written out."""
    patient = builder.CreateString(PATIENT)
    wire.Book.BookStart(builder)
    if verbose:
        wire.Book.BookAddFromWaitlist(builder, False)
        wire.Book.BookAddPatient(builder, patient)
        wire.Book.BookAddSlot(builder, slot_id)
    else:
        wire.Book.BookAddSlot(builder, slot_id)
        wire.Book.BookAddPatient(builder, patient)
    return wire.Operation.Operation.Book, wire.Book.BookEnd(builder)


def build_get_stats(builder):
    wire.GetStats.GetStatsStart(builder)
    return wire.Operation.Operation.GetStats, wire.GetStats.GetStatsEnd(builder)


def build_request(request_id, build_op, verbose=False):
    """One RequestMessage with one operation, finished with the file identifier SMW1.

    The actor is the web channel with no id: with a key, the key decides who acts and the
    request may only narrow it (docs/protocol.md, "Authentication"). `verbose` makes a
    second encoder: defaults written out (ForceDefaults) and fields in another order."""
    builder = flatbuffers.Builder(256)
    builder.ForceDefaults(verbose)
    op_type, op_body = build_op(builder)
    wire.Op.OpStart(builder)
    wire.Op.OpAddBodyType(builder, op_type)
    wire.Op.OpAddBody(builder, op_body)
    op = wire.Op.OpEnd(builder)
    wire.RequestMessage.RequestMessageStartOpsVector(builder, 1)
    builder.PrependUOffsetTRelative(op)
    ops = builder.EndVector()
    client = builder.CreateString(CLIENT)
    wire.Actor.ActorStart(builder)
    # web is the default, so this writes nothing unless defaults are forced (verbose).
    wire.Actor.ActorAddChannel(builder, wire.Channel.Channel.web)
    actor = wire.Actor.ActorEnd(builder)
    wire.RequestMessage.RequestMessageStart(builder)
    fields = [
        lambda: wire.RequestMessage.RequestMessageAddVersion(builder, 1),
        lambda: wire.RequestMessage.RequestMessageAddRequestId(builder, request_id),
        lambda: wire.RequestMessage.RequestMessageAddClient(builder, client),
        lambda: wire.RequestMessage.RequestMessageAddActor(builder, actor),
        lambda: wire.RequestMessage.RequestMessageAddOps(builder, ops),
    ]
    for add in reversed(fields) if verbose else fields:
        add()
    message = wire.RequestMessage.RequestMessageEnd(builder)
    builder.Finish(message, file_identifier=REQUEST_IDENTIFIER)
    return bytes(builder.Output())


def new_request_id():
    # Non-zero (0 means "no retry protection") and within 63 bits, as the client library draws.
    return random.SystemRandom().randint(1, 2**63 - 1)


# ------------------------------------------------------------------------------ replies


def error_text(error):
    return (f"code {error.Code()} field {(error.Field() or b'').decode()!r} "
            f"message {(error.Message() or b'').decode()!r}")


def parse_reply(checks, reply, request_id, what):
    """The ReplyMessage, after checking its identifier and that it answers `request_id`.

    flatc's ReplyMessageBufferHasIdentifier looks for the schema's SMW1, so bytes 4..7 are
    compared by hand (docs/protocol.md, "File identifiers"). Python's flatbuffers has no
    verifier: the reply is read as it is, which is fine from this trusted server."""
    checks.check(len(reply) >= 8 and reply[4:8] == REPLY_IDENTIFIER,
                 f"{what}: the reply carries the file identifier SMR1", repr(reply[:8]))
    message = wire.ReplyMessage.ReplyMessage.GetRootAs(reply, 0)
    checks.check(message.RequestId() == request_id,
                 f"{what}: the reply echoes request id {request_id}", str(message.RequestId()))
    return message


def only_body(message, body_class, body_type, what):
    """The body of the single result, as `body_class`; any refusal is a failure."""
    if message.Error() is not None:
        raise CheckFailed(f"{what}: message refused, {error_text(message.Error())}")
    if message.ResultsLength() != 1:
        raise CheckFailed(f"{what}: {message.ResultsLength()} results, expected 1")
    result = message.Results(0)
    if result.Error() is not None:
        raise CheckFailed(f"{what}: operation refused, {error_text(result.Error())}")
    if result.BodyType() != body_type:
        raise CheckFailed(f"{what}: reply body type {result.BodyType()}, expected {body_type}")
    table = result.Body()
    body = body_class()
    body.Init(table.Bytes, table.Pos)
    return body


# ------------------------------------------------------------------------------ the steps


def find_free_slot(checks, socket):
    request_id = new_request_id()
    reply = call(socket, build_request(request_id, build_find))
    message = parse_reply(checks, reply, request_id, "find")
    slots = only_body(message, wire.SlotList.SlotList, wire.ReplyBody.ReplyBody.SlotList, "find")
    checks.check(slots.SlotsLength() == 1, "find: one free lerum-nybesok slot on the web",
                 f"{slots.SlotsLength()} slots")
    return slots.Slots(0).SlotId()


def book(socket, request_id, slot_id, verbose=False):
    request = build_request(request_id, lambda b: build_book(b, slot_id, verbose), verbose)
    return request, call(socket, request)


def booking_of(checks, reply, request_id, what):
    message = parse_reply(checks, reply, request_id, what)
    body = only_body(message, wire.BookingReply.BookingReply,
                     wire.ReplyBody.ReplyBody.BookingReply, what)
    return body.Booking()


def check_silence(checks, context, endpoint, key_dir, name, who):
    """A client the server does not admit sends a find and hears nothing at all."""
    socket = connect(context, endpoint, key_dir, name)
    try:
        socket.send(build_request(new_request_id(), build_find), zmq.NOBLOCK)
    except zmq.Again:
        pass  # no connection ever completes its handshake, so nothing may even leave: fine
    reply = receive(socket, SILENCE_MS)
    socket.close()
    checks.check(reply is None, f"{who}: no reply within {SILENCE_MS} ms",
                 f"got {len(reply or b'')} bytes")


def get_stats(checks, socket):
    request_id = new_request_id()
    reply = call(socket, build_request(request_id, build_get_stats))
    message = parse_reply(checks, reply, request_id, "stats")
    return only_body(message, wire.StatsReply.StatsReply, wire.ReplyBody.ReplyBody.StatsReply,
                     "stats")


def run(args, checks, key_dir, context):
    public = make_keys(args.slotmatch, key_dir)
    write_clients_yaml(key_dir, public["gateway"])
    checks.check(all(len(k) == 40 for k in public.values()),
                 "keygen: three key pairs (server, gateway, stranger)")
    server = Server(args.slotmatchd, args.region, key_dir, os.path.join(key_dir, "slotmatchd.log"))
    try:
        endpoint = server.wait_for_endpoint()
        print(f"slotmatchd listens; connecting to {endpoint}", flush=True)
        talk_to(checks, server, endpoint, key_dir, context, args.slotmatch)
    except BaseException:
        server.stop()  # first, so that its output ends with how it stopped
        print("---- slotmatchd output ----\n" + server.output() + "---- end ----", flush=True)
        raise
    server.stop()


def talk_to(checks, server, endpoint, key_dir, context, slotmatch):
    gateway = connect(context, endpoint, key_dir, "gateway")
    slot_id = find_free_slot(checks, gateway)

    # Book it, as the gateway's web channel.
    request_id = new_request_id()
    first_request, first_reply = book(gateway, request_id, slot_id)
    booking = booking_of(checks, first_reply, request_id, "book")
    checks.check(booking.Channel() == wire.Channel.Channel.web and booking.BookingId() != 0,
                 f"book: booking {booking.BookingId()} of slot {slot_id} on the web channel",
                 f"channel {booking.Channel()} booking {booking.BookingId()}")
    # The key decides who acts: the request named no actor id, the registry's entry did.
    checks.check(booking.Patient() == int(PATIENT.replace("-", ""))
                 and booking.Actor() == b"outside-gateway",
                 "book: for the patient, by the key's actor outside-gateway",
                 f"patient {booking.Patient()} actor {booking.Actor()!r}")
    booking_id = booking.BookingId()
    gateway.close()

    # A restarted gateway retries from a new socket with another encoder: the server matches
    # retries by a digest of the decoded content, not by the bytes.
    restarted = connect(context, endpoint, key_dir, "gateway")
    retry_request, retry_reply = book(restarted, request_id, slot_id, verbose=True)
    checks.check(retry_request != first_request,
                 "retry: encoded otherwise (defaults written, fields in another order)",
                 "the two encodings are the same bytes")
    retried = booking_of(checks, retry_reply, request_id, "retry")
    checks.check(retried.BookingId() == booking_id,
                 f"retry: the same booking {booking_id}", f"got {retried.BookingId()}")
    checks.check(retry_reply == first_reply, "retry: the stored reply, byte for byte")

    # The same request id for another booking: refused whole. The retry cache is checked
    # before the operations are read, so slot_id + 1 need not even exist.
    _, conflict_reply = book(restarted, request_id, slot_id + 1)
    conflict = parse_reply(checks, conflict_reply, request_id, "conflict").Error()
    checks.check(conflict is not None
                 and conflict.Code() == wire.ErrorCode.ErrorCode.INVALID_REQUEST
                 and conflict.Field() == b"request_id",
                 "conflict: INVALID_REQUEST on request_id",
                 error_text(conflict) if conflict else "no message-level error")

    # The issue's own case: the CLI's bytes first, then this client's retry of the same request
    # (same key, client and request id, the same content from another encoder).
    slot_2 = find_free_slot(checks, restarted)
    cli_request_id = new_request_id()
    by_cli = run_cli(slotmatch, [
        "--server", endpoint, "--key", os.path.join(key_dir, "gateway"), "--server-key",
        os.path.join(key_dir, "server.pub"), "--client", CLIENT, "--request-id",
        str(cli_request_id), "book", "--slot", str(slot_2), "--patient", PATIENT])
    _, python_reply = book(restarted, cli_request_id, slot_2)
    python_retry = booking_of(checks, python_reply, cli_request_id, "retry of the CLI's request")
    checks.check(python_retry.BookingId() == by_cli["booking"]["booking_id"],
                 f"retry of the CLI's booking {by_cli['booking']['booking_id']} from Python: "
                 "the same booking", f"got {python_retry.BookingId()}")

    check_silence(checks, context, endpoint, key_dir, None, "no key")
    check_silence(checks, context, endpoint, key_dir, "stranger", "a key not in clients.yaml")

    stats = get_stats(checks, restarted)
    print(f"stats: messages {stats.Messages()} retries_answered {stats.RetriesAnswered()} "
          f"keys {stats.Keys()} handshakes_failed {stats.HandshakesFailed()} "
          f"keys_refused {stats.KeysRefused()}", flush=True)
    checks.check(stats.Keys(), "stats: the server admits registered keys only")
    checks.check(stats.HandshakesFailed() >= 2,
                 "stats: both refused clients counted in handshakes_failed",
                 str(stats.HandshakesFailed()))
    checks.check(stats.KeysRefused() >= 1, "stats: the stranger counted in keys_refused",
                 str(stats.KeysRefused()))
    checks.check(stats.RetriesAnswered() >= 1, "stats: the retry counted in retries_answered",
                 str(stats.RetriesAnswered()))
    restarted.close()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slotmatchd", required=True, help="the slotmatchd binary")
    parser.add_argument("--slotmatch", required=True, help="the slotmatch CLI (for keygen)")
    parser.add_argument("--generated", required=True,
                        help="the folder flatc --python wrote (holds slotmatch/wire/)")
    parser.add_argument("--region", required=True, help="the region file (tools/region/demo.yaml)")
    return parser.parse_args()


def raise_on_sigterm(signum, frame):
    # ctest or a user stopping this script: unwind, so that slotmatchd is stopped too.
    raise SystemExit(f"stopped by signal {signum}")


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    import_generated(args.generated)
    checks = Checks()
    key_dir = tempfile.mkdtemp(prefix="slotmatch-outside-")
    context = zmq.Context()
    try:
        run(args, checks, key_dir, context)
    except CheckFailed as failure:
        print(f"FAILED after {checks.passed} checks: {failure}", flush=True)
        return 1
    finally:
        # The server's log has been printed on any failure; the key pairs are throwaway.
        context.destroy(linger=0)
        shutil.rmtree(key_dir, ignore_errors=True)
    print(f"{checks.passed} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
