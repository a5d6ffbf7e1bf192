"""Protocol v1: golden vectors, encoding round trips and message parsing."""

from __future__ import annotations

import numpy as np
import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol as p
from firmware_bridge.decoder import V1Decoder
from firmware_bridge.vectors import build_vectors, load_vectors


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283


def test_vector_file_matches_the_encoder():
    assert load_vectors() == build_vectors()


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: v["name"])
def test_vector_decodes_to_its_inputs(vector):
    wire = bytes.fromhex(vector["wire_hex"])
    assert wire.count(0) == 1 and wire[-1] == 0
    frame = p.decode_wire_chunk(wire[:-1])
    assert frame is not None
    assert (frame.type, frame.seq, frame.time_us) == (vector["type"], vector["seq"], vector["time_us"])
    assert frame.payload.hex() == vector["payload_hex"]
    inputs = vector["inputs"]
    if frame.type == p.MsgType.SAMPLES:
        s = p.parse_samples(frame)
        assert s.first_index == inputs["first_index"]
        assert s.time_us.tolist() == inputs["sample_time_us"]
        assert s.values.tolist() == inputs["values"]
    elif frame.type == p.MsgType.INFO:
        info = p.parse_info(frame.payload)
        assert (info.device_id, info.model, info.channels, info.rate_hz) == (
            inputs["device_id"],
            inputs["model"],
            inputs["channels"],
            inputs["rate_mhz"] / 1000,
        )
        assert [[c.kind, c.unit, c.scale_exp10] for c in info.channel_specs] == inputs.get("channel_decl", [])
    elif frame.type == p.MsgType.PONG:
        pong = p.parse_pong(frame)
        assert (pong.command_seq, pong.token, pong.device_rx_us) == (
            inputs["command_seq"],
            inputs["token"],
            inputs["device_rx_us"],
        )


def test_decoder_reads_every_vector_in_one_stream():
    stream = b"".join(bytes.fromhex(v["wire_hex"]) for v in load_vectors() if v["type"] < 0x10)
    d = V1Decoder()
    out = d.feed(stream)
    assert d.stats.crc_errors == 0
    kinds = [type(m).__name__ for m in out.messages]
    assert kinds == ["DeviceInfo", "Ack", "Ack", "Pong", "DeviceError", "DeviceInfo"]


@settings(max_examples=200, deadline=None)
@given(width=st.sampled_from(p.SAMPLE_WIDTHS), data=st.data())
def test_sample_values_round_trip_at_every_width(width, data):
    lim = 1 << (8 * width - 1)
    count = data.draw(st.integers(1, 8))
    channels = data.draw(st.integers(1, 20))
    values = np.array(
        data.draw(st.lists(st.integers(-lim, lim - 1), min_size=count * channels, max_size=count * channels))
    ).reshape(count, channels)
    raw = p.pack_values(values, width)
    assert len(raw) == count * channels * width
    assert np.array_equal(p.unpack_values(raw, width, count, channels), values)


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=600), seq=st.integers(0, 2**32 - 1), t=st.integers(0, 2**32 - 1))
def test_any_payload_survives_framing(payload, seq, t):
    wire = p.encode_frame(p.MsgType.SAMPLES, seq, t, payload)
    assert wire.index(0) == len(wire) - 1
    frame = p.decode_wire_chunk(wire[:-1])
    assert (frame.seq, frame.time_us, frame.payload) == (seq, t, payload)


def test_a_flipped_bit_anywhere_is_rejected():
    wire = p.encode_frame(p.MsgType.ACK, 5, 77, p.ack_payload(1, p.MsgType.START))[:-1]
    for i in range(len(wire)):
        for bit in range(8):
            bad = bytearray(wire)
            bad[i] ^= 1 << bit
            if 0 in bad:
                continue  # a new delimiter: the decoder sees two short pieces, covered elsewhere
            assert p.decode_wire_chunk(bytes(bad)) is None, (i, bit)


def test_payload_too_large_is_refused():
    with pytest.raises(ValueError):
        p.encode_body(p.MsgType.SAMPLES, 0, 0, bytes(p.MAX_PAYLOAD + 1))


# ------------------------------------------------------------------------------------------ channel semantics


def _touch_info(**kw) -> p.DeviceInfo:
    specs = (p.ChannelSpec(p.ChannelKind.ANGLE, p.ChannelUnit.RADIAN),) * 2 + (
        p.ChannelSpec(p.ChannelKind.FORCE, p.ChannelUnit.NEWTON, -2),
        p.ChannelSpec(p.ChannelKind.PRESSURE, p.ChannelUnit.PASCAL, 3),
    )
    return p.DeviceInfo("id", "touch", (1, 3, 0), 4, 24, 3, 8, 500.0, 2000.0, channel_specs=specs, **kw)


def test_info_channel_declaration_round_trips_and_old_info_is_still_understood():
    info = _touch_info()
    payload = p.info_payload(info)
    back = p.parse_info(payload)
    assert back == info
    assert [c.kind_name for c in back.channel_specs] == ["angle", "angle", "force", "pressure"]
    assert [c.unit_name for c in back.channel_specs] == ["radian", "radian", "newton", "pascal"]
    assert back.channel_specs[2].scale == pytest.approx(0.01) and back.channel_specs[0].scale is None
    # firmware before the declaration: INFO ends after the model string
    old = payload[: -(1 + 3 * 4)]
    legacy_info = p.parse_info(old)
    assert legacy_info is not None and legacy_info.channel_specs == () and legacy_info.channels == 4


def test_info_with_a_malformed_channel_declaration_is_rejected():
    payload = p.info_payload(_touch_info())
    assert p.parse_info(payload[:-1]) is None  # truncated declaration
    assert p.parse_info(payload + b"\x00") is None  # trailing byte
    n_at = len(payload) - 1 - 3 * 4
    assert p.parse_info(payload[:n_at] + b"\x03" + payload[n_at + 1 :]) is None  # count disagrees with channels
    with pytest.raises(ValueError, match="channel specs"):
        p.info_payload(p.DeviceInfo("id", "m", (1, 0, 0), 3, 24, 3, 8, 1.0, 2.0, channel_specs=(p.ChannelSpec(),)))


def test_unknown_kind_and_unit_codes_are_kept_not_rejected():
    info = p.DeviceInfo("id", "m", (1, 0, 0), 1, 24, 3, 8, 1.0, 2.0, channel_specs=(p.ChannelSpec(200, 201, -3),))
    back = p.parse_info(p.info_payload(info))
    assert back.channel_specs[0] == p.ChannelSpec(200, 201, -3)
    assert (back.channel_specs[0].kind_name, back.channel_specs[0].unit_name) == ("kind200", "unit201")
