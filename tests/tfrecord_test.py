"""Tests for ssvae.data.tfrecord, the TensorFlow-free TFRecord reader.

Files are written with tensorboardX's RecordWriter, an independent
implementation of the framing (its event files are read by TensorBoard and
TensorFlow), so the reader is not checked only against itself.
"""

import pytest
from tensorboardX import record_writer

from ssvae import errors
from ssvae.data import tfrecord

RECORDS = [b"", b"x", bytes(range(256)) * 40]


def _write(path, records):
  writer = record_writer.RecordWriter(str(path))
  for record in records:
    writer.write(record)
  writer.close()
  return path


def _offset(index: int) -> int:
  """Byte offset of RECORDS[index]: 12 header and 4 footer bytes each."""
  return sum(16 + len(record) for record in RECORDS[:index])


def _flip(path, position: int):
  data = bytearray(path.read_bytes())
  data[position] ^= 0x01
  path.write_bytes(bytes(data))


def test_masked_crc32c_matches_tensorflow():
  # Checksum of a record in a real TensorFlow event file (the vector
  # TensorBoard's Rust reader tests against).
  assert tfrecord.masked_crc32c(b"\x1a\x11CRC test, one two") == 0x5794D08A


def test_reads_records_written_by_another_writer(tmp_path):
  path = _write(tmp_path / "a.tfrecord", RECORDS)
  assert list(tfrecord.read_records(path)) == RECORDS


def test_empty_file_has_no_records(tmp_path):
  path = tmp_path / "empty.tfrecord"
  path.write_bytes(b"")
  assert not list(tfrecord.read_records(path))


@pytest.mark.parametrize("where,part", [(0, "length"), (12 + 100, "data"),
                                        (12 + 10240, "data")])
def test_bad_checksum_names_file_and_record(tmp_path, where, part):
  # where: a byte of record 2's length, data, or data checksum.
  path = _write(tmp_path / "a.tfrecord", RECORDS)
  _flip(path, _offset(2) + where)
  with pytest.raises(errors.DataError) as info:
    list(tfrecord.read_records(path))
  message = str(info.value)
  assert str(path) in message and "corrupt" in message
  assert f"record 2 (at byte {_offset(2)})" in message
  assert f"{part} checksum" in message


@pytest.mark.parametrize("cut", [3, 12 + 500, 16 + 10240 - 1])
def test_truncated_file_names_file_and_record(tmp_path, cut):
  # cut: bytes of record 2 left, inside its header, data, or last checksum.
  path = _write(tmp_path / "a.tfrecord", RECORDS)
  path.write_bytes(path.read_bytes()[:_offset(2) + cut])
  records = tfrecord.read_records(path)
  assert [next(records), next(records)] == RECORDS[:2]  # Streamed in order.
  with pytest.raises(errors.DataError) as info:
    next(records)
  message = str(info.value)
  assert str(path) in message and "truncated" in message
  assert f"record 2 (at byte {_offset(2)})" in message


def test_missing_file(tmp_path):
  with pytest.raises(errors.DataNotFoundError, match="no.tfrecord"):
    list(tfrecord.read_records(tmp_path / "no.tfrecord"))
