#!/usr/bin/env python3
"""Independent SMPP benchmark client (smpplib 2.2.4), to compare against orderguard's own client.

Binds a transceiver, sends --count submit_sm one at a time (smpplib is synchronous, so this is a
window of 1: each submit waits for its submit_sm_resp), unbinds and prints one JSON line:

    {"client": "smpplib 2.2.4", "messages": N, "seconds": S, "per_second": R}

Needs `pip install smpplib==2.2.4` (for example in a venv). Errors go to stderr, exit status 1.

    bench-smpp-smpplib.py --host 127.0.0.1 --port 2775 --system-id ID --password PW --count 2000
"""

import argparse
import json
import logging
import sys
import time

CLIENT_NAME = "smpplib 2.2.4"
TEXT = b"Your code is 123456"  # plain GSM 03.38 characters: same bytes in ASCII and unpacked GSM-7


def fail(message):
    print(f"bench-smpp-smpplib: {message}", file=sys.stderr)
    sys.exit(1)


try:
    import smpplib.client
    import smpplib.consts
    import smpplib.exceptions
except ImportError:
    fail("smpplib is not installed (pip install smpplib==2.2.4)")


def parse_args():
    parser = argparse.ArgumentParser(description="SMPP submit_sm benchmark with smpplib (window 1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--system-id", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for any one response (default 10)")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    return args


def submit_and_wait(client, responses, number, timeout):
    """Sends one submit_sm and reads PDUs until its submit_sm_resp lands in `responses`."""
    pdu = client.send_message(
        source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,  # 5: alphanumeric sender
        source_addr_npi=smpplib.consts.SMPP_NPI_UNK,  # 0
        source_addr="Bench",
        dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
        dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
        destination_addr=f"+4915112{number % 1000000:06d}",
        short_message=TEXT,
        data_coding=smpplib.consts.SMPP_ENCODING_DEFAULT,
        registered_delivery=0,
    )
    # read_once() dispatches one PDU: a submit_sm_resp goes to the message_sent_handler, deliver_sm
    # and enquire_link are answered for us, and an error status raises PDUError. On a socket
    # timeout it sends enquire_link and returns, so the deadline below is what bounds the wait.
    deadline = time.monotonic() + timeout
    while pdu.sequence not in responses:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no submit_sm_resp for sequence {pdu.sequence} within {timeout}s")
        client.read_once()
    return responses.pop(pdu.sequence)


def main():
    args = parse_args()
    # On error paths smpplib logs "disconnecting in the bound state"; our own message says what failed.
    logging.getLogger("smpp").setLevel(logging.ERROR)
    # allow_unknown_opt_params: skip vendor TLVs instead of failing (and silences a deprecation warning).
    client = smpplib.client.Client(args.host, args.port, timeout=args.timeout, allow_unknown_opt_params=True)
    try:
        client.connect()
        client.bind_transceiver(system_id=args.system_id, password=args.password)
        responses = {}
        client.set_message_sent_handler(lambda pdu: responses.__setitem__(pdu.sequence, pdu))
        start = time.perf_counter()
        for number in range(args.count):
            submit_and_wait(client, responses, number, args.timeout)
        seconds = time.perf_counter() - start
        client.unbind()
    except smpplib.exceptions.PDUError as err:
        fail(f"SMSC answered with an error: {err.args[0]}")
    except TimeoutError as err:  # before OSError, which it is a subclass of
        fail(str(err))
    except (smpplib.exceptions.ConnectionError, OSError) as err:
        fail(f"connection to {args.host}:{args.port} failed: {err or type(err).__name__}")
    finally:
        client.disconnect()

    print(json.dumps({
        "client": CLIENT_NAME,
        "messages": args.count,
        "seconds": round(seconds, 3),
        "per_second": round(args.count / seconds, 1),
    }))


if __name__ == "__main__":
    main()
