"""An independent HL7 client for Dayi's MLLP listener (see mllp_external.rs).

Builds ORU^R01 messages with hl7apy (strictly validated against v2.5.1),
sends each over one MLLP connection to 127.0.0.1:<port>, reads the ACK and
parses it with hl7apy, strictly validated as well. Prints one JSON object per
message: its control id, MSA-1, MSA-2 and the ERR-5 code, if any.
"""
import json
import socket
import sys

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message

STRICT = VALIDATION_LEVEL.STRICT


def oru(ctrl, barcode, value, value_type="NM"):
    m = Message("ORU_R01", version="2.5.1", validation_level=STRICT)
    m.msh.msh_3 = "CL-1000i"
    m.msh.msh_4 = "LAB"
    m.msh.msh_5 = "DAYI"
    m.msh.msh_6 = "CIQIU"
    m.msh.msh_7 = "20261203094512"
    m.msh.msh_9 = "ORU^R01^ORU_R01"
    m.msh.msh_10 = ctrl
    m.msh.msh_11 = "P"
    m.msh.msh_18 = "UNICODE UTF-8"
    result = m.add_group("ORU_R01_PATIENT_RESULT")
    result.add_group("ORU_R01_PATIENT").pid.pid_3 = "0012345678^^^CIQIU^MR"
    result.ORU_R01_PATIENT.pid.pid_5 = "张三"
    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    order.obr.obr_1 = "1"
    order.obr.obr_2 = "HIS-" + barcode
    order.obr.obr_4 = "TSH^促甲状腺激素^L"
    obx = order.add_group("ORU_R01_OBSERVATION").obx
    obx.obx_1 = "1"
    obx.obx_2 = value_type
    obx.obx_3 = "TSH^促甲状腺激素^L"
    obx.obx_5 = value
    obx.obx_6 = "uIU/mL"
    obx.obx_7 = "0.27-4.2"
    obx.obx_8 = "N"
    obx.obx_11 = "F"
    obx.obx_14 = "20261203094500"
    obx.obx_18 = "CL-1000i-01"
    # v2.5.1: the barcode travels in SPM-2 (its filler-assigned half)
    spm = order.add_group("ORU_R01_SPECIMEN").spm
    spm.spm_1 = "1"
    spm.spm_2 = "^" + barcode
    spm.spm_4 = "SER^血清^L"
    m.validate()
    return m


def adt(ctrl):
    m = Message("ADT_A01", version="2.5.1", validation_level=STRICT)
    m.msh.msh_3 = "HIS"
    m.msh.msh_9 = "ADT^A01^ADT_A01"
    m.msh.msh_10 = ctrl
    m.msh.msh_11 = "P"
    m.pid.pid_3 = "1"
    m.pid.pid_5 = "李四"
    m.pv1.pv1_2 = "O"
    return m


def exchange(sock, msg):
    sock.sendall(msg.to_mllp().encode("utf-8"))
    buf = b""
    while not buf.endswith(b"\x1c\r"):
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the ACK")
        buf += chunk
    er7 = buf[1:-2].decode("utf-8")
    ack = parse_message(er7, validation_level=STRICT)
    ack.validate()
    err = ack.err.err_5.err_5_1.value if ack.children.get("ERR") else None
    return {
        "ctrl": msg.msh.msh_10.value,
        "msh9": ack.msh.msh_9.to_er7(),
        "msa1": ack.msa.msa_1.value,
        "msa2": ack.msa.msa_2.value,
        "err": err,
    }


def main():
    port = int(sys.argv[1])
    known, unknown = sys.argv[2], sys.argv[3]
    messages = [
        oru("EXT-1", known, "2.10"),
        oru("EXT-2", unknown, "2.10"),
        # hl7apy escapes the delimiters in this text (\F\, \R\, \E\)
        oru("EXT-3", known, "阴性|复查~见备注\\", value_type="ST"),
        adt("EXT-4"),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for m in messages:
            print(json.dumps(exchange(sock, m), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
