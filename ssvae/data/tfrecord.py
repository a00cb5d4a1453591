"""Reads TFRecord files without TensorFlow, checking every checksum.

A TFRecord file is a sequence of records, each framed as

    uint64 length            (little-endian)
    uint32 masked CRC32C of the 8 length bytes
    byte   data[length]
    uint32 masked CRC32C of data

with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32), the
framing TensorFlow's TFRecordWriter writes (and `tfds.load` caches use).
Both checksums are checked, so a corrupt or truncated file is one clear
DataError naming the file and the record, never wrong data. Uncompressed
files only (tfds never compresses its caches).
"""

import struct
from typing import Iterator

import google_crc32c

from ssvae import errors

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")  # length, masked CRC of the length bytes
_FOOTER = struct.Struct("<I")  # masked CRC of the data


def masked_crc32c(data: bytes) -> int:
  """CRC32C (Castagnoli) of data with TFRecord's mask; google-crc32c's C
  implementation, as a pure-Python CRC adds seconds to each MNIST load."""
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _truncated(path, index: int, offset: int, part: str, needed: int,
               got: int) -> errors.DataError:
  return errors.DataError(
      f"TFRecord file {path} is truncated: record {index} (at byte {offset}) "
      f"needs {needed} bytes for its {part}, only {got} are left. Prepare "
      "the data set again.")


def _corrupt(path, index: int, offset: int, part: str) -> errors.DataError:
  return errors.DataError(
      f"TFRecord file {path} is corrupt: record {index} (at byte {offset}) "
      f"fails its {part} checksum. Prepare the data set again.")


def read_records(path) -> Iterator[bytes]:
  """Yields the data of each record of the TFRecord file at path, in order.

  Raises:
    DataNotFoundError: path does not exist.
    DataError: path cannot be read, or a record is truncated or fails a
      checksum (the message names the file, the record and its byte offset).
  """
  try:
    stream = open(path, "rb")  # pylint: disable=consider-using-with
  except FileNotFoundError as err:
    raise errors.DataNotFoundError(
        f"TFRecord file {path} does not exist.") from err
  except OSError as err:
    raise errors.DataError(f"Cannot read TFRecord file {path}: {err}") from err
  with stream:
    index = offset = 0
    while header := stream.read(_HEADER.size):
      if len(header) < _HEADER.size:
        raise _truncated(path, index, offset, "header", _HEADER.size,
                         len(header))
      length, length_crc = _HEADER.unpack(header)
      if masked_crc32c(header[:8]) != length_crc:
        raise _corrupt(path, index, offset, "length")
      body = stream.read(length + _FOOTER.size)
      if len(body) < length + _FOOTER.size:
        raise _truncated(path, index, offset, "data and checksum",
                         length + _FOOTER.size, len(body))
      data = body[:length]
      if masked_crc32c(data) != _FOOTER.unpack_from(body, length)[0]:
        raise _corrupt(path, index, offset, "data")
      yield data
      index += 1
      offset += _HEADER.size + len(body)
