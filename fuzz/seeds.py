#!/usr/bin/env python3
"""Writes the seed corpus: a few valid PDUs and texts, so the fuzzer starts past the length and
command checks: python3 seeds.py"""
import os
import struct


def pdu(command_id, seq, body=b"", status=0):
    # command_length counts the 16-octet header.
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def short_message(src, dst, esm_class, text, tlvs=b""):
    # service_type, source ton/npi/addr, dest ton/npi/addr, esm_class, protocol_id, priority,
    # schedule_delivery_time, validity_period, registered_delivery, replace, data_coding,
    # sm_default_msg_id, sm_length, short_message, TLVs.
    return (b"\0" + bytes([5, 0]) + src + b"\0" + bytes([1, 1]) + dst + b"\0"
            + bytes([esm_class, 0, 0]) + b"\0\0" + bytes([1, 0, 0, 0, len(text)]) + text + tlvs)


RECEIPT = (b"id:0A1B2C sub:001 dlvrd:001 submit date:2611241950 done date:2611241951"
           b" stat:DELIVRD err:000 text:Your code 123456")
deliver_receipt = pdu(0x05, 3, short_message(b"491701234567", b"Shop", 0x04, RECEIPT,
                                             tlv(0x001E, b"0A1B2C\0") + tlv(0x0427, b"\x02")))
seeds = {
    "pdu_decode": {
        "bind_transceiver": pdu(0x09, 1, b"smppclient1\0password\0\0" + bytes([0x34, 0, 0]) + b"\0"),
        "bind_transceiver_resp": pdu(0x80000009, 1, b"SMSC\0" + tlv(0x0210, b"\x34")),
        "bind_resp_error": pdu(0x80000009, 1, status=0x0E),
        "submit_sm": pdu(0x04, 2, short_message(b"Shop", b"491701234567", 0, b"Hello")),
        "submit_sm_resp": pdu(0x80000004, 2, b"5f3c9a\0"),
        "deliver_sm_receipt": deliver_receipt,
        "enquire_link": pdu(0x15, 4),
    },
    "receipt_text": {
        "text": RECEIPT,
        "text_upper": b"ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2611241950 DONE DATE:2611241951 STAT:UNDELIV ERR:034 TEXT:",
        "deliver_sm_receipt": deliver_receipt,
    },
    # text_split's input is (reference, data_coding, text) as read by `arbitrary`: a byte each, then
    # the text.
    "text_split": {
        "gsm7_long": b"\x42\x00" + b"a" * 152 + "€".encode() + b"b" * 10,
        "ucs2_long": b"\x09\x08" + "ж".encode() * 66 + "😀".encode() + "ж".encode() * 5,
        "short": b"\x01\x00Your code is 123456",
    },
}
corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
for target, files in seeds.items():
    os.makedirs(f"{corpus}/{target}", exist_ok=True)
    for name, data in files.items():
        with open(f"{corpus}/{target}/{name}", "wb") as f:
            f.write(data)
