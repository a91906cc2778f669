// flowhost test codec: a multi-sensor tracker, written for flowhost's tests in ES2015+ syntax (classes, let/const,
// arrow functions, template literals, destructuring, Map, spread, default parameters). TS013 shape.
//
// Uplink messages (first byte = type, FPort 10):
//   0x01 position: i32 latitude (1e-7 deg), i32 longitude (1e-7 deg), u16 altitude (m), u8 satellites
//   0x02 status:   u16 battery (mV), i8 temperature (deg C), u8 flags (bit0 moving, bit1 charging, bit2 sos)
//   0x03 wifi:     u8 count, then count x (6-byte BSSID, i8 RSSI)
//   0x04 registers: u8 count, then count x (u16 register id, i32 raw value)
//   0x05 alarm:    u8 code, u32 seconds since epoch
// Downlink (FPort 20): 0x40 set registers: count x (u16 id, i32 raw value); 0x41 read registers: count x u16 id.
"use strict";

class ByteReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.offset = 0;
  }
  get remaining() {
    return this.bytes.length - this.offset;
  }
  need(count, what) {
    if (this.remaining < count) {
      throw new RangeError(`${what}: needs ${count} bytes at offset ${this.offset}, ${this.remaining} left`);
    }
  }
  u8(what = "byte") {
    this.need(1, what);
    return this.bytes[this.offset++];
  }
  i8(what = "byte") {
    const value = this.u8(what);
    return value > 0x7f ? value - 0x100 : value;
  }
  u16(what = "u16") {
    this.need(2, what);
    const [high, low] = this.bytes.slice(this.offset, this.offset + 2);
    this.offset += 2;
    return (high << 8) | low;
  }
  i32(what = "i32") {
    this.need(4, what);
    const [a, b, c, d] = this.bytes.slice(this.offset, this.offset + 4);
    this.offset += 4;
    return (a << 24) | (b << 16) | (c << 8) | d;
  }
  u32(what = "u32") {
    return this.i32(what) >>> 0;
  }
  hex(count, what = "bytes") {
    this.need(count, what);
    const part = this.bytes.slice(this.offset, this.offset + count);
    this.offset += count;
    return part.map((byte) => byte.toString(16).padStart(2, "0")).join(":");
  }
}

class ByteWriter {
  constructor() {
    this.bytes = [];
  }
  u8(value) {
    this.bytes.push(value & 0xff);
    return this;
  }
  u16(value) {
    return this.u8(value >> 8).u8(value);
  }
  i32(value) {
    return this.u8(value >> 24).u8(value >> 16).u8(value >> 8).u8(value);
  }
}

const REGISTERS = [
  { id: 0x0000, name: "reportInterval0", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0001, name: "reportInterval1", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0002, name: "reportInterval2", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0003, name: "reportInterval3", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0004, name: "reportInterval4", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0005, name: "reportInterval5", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0006, name: "reportInterval6", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0007, name: "reportInterval7", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0008, name: "reportInterval8", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0009, name: "reportInterval9", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x000a, name: "reportInterval10", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x000b, name: "reportInterval11", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x000c, name: "reportInterval12", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x000d, name: "reportInterval13", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x000e, name: "reportInterval14", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x000f, name: "reportInterval15", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0010, name: "reportInterval16", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0011, name: "reportInterval17", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0012, name: "reportInterval18", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0013, name: "reportInterval19", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0014, name: "reportInterval20", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0015, name: "reportInterval21", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0016, name: "reportInterval22", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0017, name: "reportInterval23", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0018, name: "reportInterval24", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0019, name: "reportInterval25", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x001a, name: "reportInterval26", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x001b, name: "reportInterval27", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x001c, name: "reportInterval28", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x001d, name: "reportInterval29", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x001e, name: "reportInterval30", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x001f, name: "reportInterval31", unit: "s", scale: 1, min: 0, max: 86400 },
  { id: 0x0020, name: "temperatureThreshold0", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0021, name: "temperatureThreshold1", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0022, name: "temperatureThreshold2", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0023, name: "temperatureThreshold3", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0024, name: "temperatureThreshold4", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0025, name: "temperatureThreshold5", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0026, name: "temperatureThreshold6", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0027, name: "temperatureThreshold7", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0028, name: "temperatureThreshold8", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0029, name: "temperatureThreshold9", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x002a, name: "temperatureThreshold10", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x002b, name: "temperatureThreshold11", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x002c, name: "temperatureThreshold12", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x002d, name: "temperatureThreshold13", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x002e, name: "temperatureThreshold14", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x002f, name: "temperatureThreshold15", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0030, name: "temperatureThreshold16", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0031, name: "temperatureThreshold17", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0032, name: "temperatureThreshold18", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0033, name: "temperatureThreshold19", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0034, name: "temperatureThreshold20", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0035, name: "temperatureThreshold21", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0036, name: "temperatureThreshold22", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0037, name: "temperatureThreshold23", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0038, name: "temperatureThreshold24", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0039, name: "temperatureThreshold25", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x003a, name: "temperatureThreshold26", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x003b, name: "temperatureThreshold27", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x003c, name: "temperatureThreshold28", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x003d, name: "temperatureThreshold29", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x003e, name: "temperatureThreshold30", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x003f, name: "temperatureThreshold31", unit: "°C", scale: 0.1, min: -400, max: 850 },
  { id: 0x0040, name: "accelerationThreshold0", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0041, name: "accelerationThreshold1", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0042, name: "accelerationThreshold2", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0043, name: "accelerationThreshold3", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0044, name: "accelerationThreshold4", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0045, name: "accelerationThreshold5", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0046, name: "accelerationThreshold6", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0047, name: "accelerationThreshold7", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0048, name: "accelerationThreshold8", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0049, name: "accelerationThreshold9", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x004a, name: "accelerationThreshold10", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x004b, name: "accelerationThreshold11", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x004c, name: "accelerationThreshold12", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x004d, name: "accelerationThreshold13", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x004e, name: "accelerationThreshold14", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x004f, name: "accelerationThreshold15", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0050, name: "accelerationThreshold16", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0051, name: "accelerationThreshold17", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0052, name: "accelerationThreshold18", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0053, name: "accelerationThreshold19", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0054, name: "accelerationThreshold20", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0055, name: "accelerationThreshold21", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0056, name: "accelerationThreshold22", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0057, name: "accelerationThreshold23", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0058, name: "accelerationThreshold24", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0059, name: "accelerationThreshold25", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x005a, name: "accelerationThreshold26", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x005b, name: "accelerationThreshold27", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x005c, name: "accelerationThreshold28", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x005d, name: "accelerationThreshold29", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x005e, name: "accelerationThreshold30", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x005f, name: "accelerationThreshold31", unit: "mg", scale: 1, min: 0, max: 16000 },
  { id: 0x0060, name: "geofenceRadius0", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0061, name: "geofenceRadius1", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0062, name: "geofenceRadius2", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0063, name: "geofenceRadius3", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0064, name: "geofenceRadius4", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0065, name: "geofenceRadius5", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0066, name: "geofenceRadius6", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0067, name: "geofenceRadius7", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0068, name: "geofenceRadius8", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0069, name: "geofenceRadius9", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x006a, name: "geofenceRadius10", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x006b, name: "geofenceRadius11", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x006c, name: "geofenceRadius12", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x006d, name: "geofenceRadius13", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x006e, name: "geofenceRadius14", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x006f, name: "geofenceRadius15", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0070, name: "geofenceRadius16", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0071, name: "geofenceRadius17", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0072, name: "geofenceRadius18", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0073, name: "geofenceRadius19", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0074, name: "geofenceRadius20", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0075, name: "geofenceRadius21", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0076, name: "geofenceRadius22", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0077, name: "geofenceRadius23", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0078, name: "geofenceRadius24", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0079, name: "geofenceRadius25", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x007a, name: "geofenceRadius26", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x007b, name: "geofenceRadius27", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x007c, name: "geofenceRadius28", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x007d, name: "geofenceRadius29", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x007e, name: "geofenceRadius30", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x007f, name: "geofenceRadius31", unit: "m", scale: 1, min: 0, max: 65535 },
  { id: 0x0080, name: "batteryAlarm0", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0081, name: "batteryAlarm1", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0082, name: "batteryAlarm2", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0083, name: "batteryAlarm3", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0084, name: "batteryAlarm4", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0085, name: "batteryAlarm5", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0086, name: "batteryAlarm6", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0087, name: "batteryAlarm7", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0088, name: "batteryAlarm8", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0089, name: "batteryAlarm9", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x008a, name: "batteryAlarm10", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x008b, name: "batteryAlarm11", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x008c, name: "batteryAlarm12", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x008d, name: "batteryAlarm13", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x008e, name: "batteryAlarm14", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x008f, name: "batteryAlarm15", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0090, name: "batteryAlarm16", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0091, name: "batteryAlarm17", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0092, name: "batteryAlarm18", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0093, name: "batteryAlarm19", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0094, name: "batteryAlarm20", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0095, name: "batteryAlarm21", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0096, name: "batteryAlarm22", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0097, name: "batteryAlarm23", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0098, name: "batteryAlarm24", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x0099, name: "batteryAlarm25", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x009a, name: "batteryAlarm26", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x009b, name: "batteryAlarm27", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x009c, name: "batteryAlarm28", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x009d, name: "batteryAlarm29", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x009e, name: "batteryAlarm30", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x009f, name: "batteryAlarm31", unit: "V", scale: 0.01, min: 200, max: 420 },
  { id: 0x00a0, name: "ledMode0", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a1, name: "ledMode1", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a2, name: "ledMode2", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a3, name: "ledMode3", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a4, name: "ledMode4", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a5, name: "ledMode5", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a6, name: "ledMode6", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a7, name: "ledMode7", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a8, name: "ledMode8", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00a9, name: "ledMode9", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00aa, name: "ledMode10", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00ab, name: "ledMode11", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00ac, name: "ledMode12", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00ad, name: "ledMode13", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00ae, name: "ledMode14", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00af, name: "ledMode15", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b0, name: "ledMode16", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b1, name: "ledMode17", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b2, name: "ledMode18", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b3, name: "ledMode19", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b4, name: "ledMode20", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b5, name: "ledMode21", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b6, name: "ledMode22", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b7, name: "ledMode23", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b8, name: "ledMode24", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00b9, name: "ledMode25", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00ba, name: "ledMode26", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00bb, name: "ledMode27", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00bc, name: "ledMode28", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00bd, name: "ledMode29", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00be, name: "ledMode30", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00bf, name: "ledMode31", unit: "", scale: 1, min: 0, max: 3 },
  { id: 0x00c0, name: "gpsTimeout0", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c1, name: "gpsTimeout1", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c2, name: "gpsTimeout2", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c3, name: "gpsTimeout3", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c4, name: "gpsTimeout4", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c5, name: "gpsTimeout5", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c6, name: "gpsTimeout6", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c7, name: "gpsTimeout7", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c8, name: "gpsTimeout8", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00c9, name: "gpsTimeout9", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00ca, name: "gpsTimeout10", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00cb, name: "gpsTimeout11", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00cc, name: "gpsTimeout12", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00cd, name: "gpsTimeout13", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00ce, name: "gpsTimeout14", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00cf, name: "gpsTimeout15", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d0, name: "gpsTimeout16", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d1, name: "gpsTimeout17", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d2, name: "gpsTimeout18", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d3, name: "gpsTimeout19", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d4, name: "gpsTimeout20", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d5, name: "gpsTimeout21", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d6, name: "gpsTimeout22", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d7, name: "gpsTimeout23", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d8, name: "gpsTimeout24", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00d9, name: "gpsTimeout25", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00da, name: "gpsTimeout26", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00db, name: "gpsTimeout27", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00dc, name: "gpsTimeout28", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00dd, name: "gpsTimeout29", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00de, name: "gpsTimeout30", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00df, name: "gpsTimeout31", unit: "s", scale: 1, min: 10, max: 600 },
  { id: 0x00e0, name: "wifiScanCount0", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e1, name: "wifiScanCount1", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e2, name: "wifiScanCount2", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e3, name: "wifiScanCount3", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e4, name: "wifiScanCount4", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e5, name: "wifiScanCount5", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e6, name: "wifiScanCount6", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e7, name: "wifiScanCount7", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e8, name: "wifiScanCount8", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00e9, name: "wifiScanCount9", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00ea, name: "wifiScanCount10", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00eb, name: "wifiScanCount11", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00ec, name: "wifiScanCount12", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00ed, name: "wifiScanCount13", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00ee, name: "wifiScanCount14", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00ef, name: "wifiScanCount15", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f0, name: "wifiScanCount16", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f1, name: "wifiScanCount17", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f2, name: "wifiScanCount18", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f3, name: "wifiScanCount19", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f4, name: "wifiScanCount20", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f5, name: "wifiScanCount21", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f6, name: "wifiScanCount22", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f7, name: "wifiScanCount23", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f8, name: "wifiScanCount24", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00f9, name: "wifiScanCount25", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00fa, name: "wifiScanCount26", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00fb, name: "wifiScanCount27", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00fc, name: "wifiScanCount28", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00fd, name: "wifiScanCount29", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00fe, name: "wifiScanCount30", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x00ff, name: "wifiScanCount31", unit: "", scale: 1, min: 0, max: 12 },
  { id: 0x0100, name: "bleBeaconFilter0", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0101, name: "bleBeaconFilter1", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0102, name: "bleBeaconFilter2", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0103, name: "bleBeaconFilter3", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0104, name: "bleBeaconFilter4", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0105, name: "bleBeaconFilter5", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0106, name: "bleBeaconFilter6", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0107, name: "bleBeaconFilter7", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0108, name: "bleBeaconFilter8", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0109, name: "bleBeaconFilter9", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x010a, name: "bleBeaconFilter10", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x010b, name: "bleBeaconFilter11", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x010c, name: "bleBeaconFilter12", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x010d, name: "bleBeaconFilter13", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x010e, name: "bleBeaconFilter14", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x010f, name: "bleBeaconFilter15", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0110, name: "bleBeaconFilter16", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0111, name: "bleBeaconFilter17", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0112, name: "bleBeaconFilter18", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0113, name: "bleBeaconFilter19", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0114, name: "bleBeaconFilter20", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0115, name: "bleBeaconFilter21", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0116, name: "bleBeaconFilter22", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0117, name: "bleBeaconFilter23", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0118, name: "bleBeaconFilter24", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0119, name: "bleBeaconFilter25", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x011a, name: "bleBeaconFilter26", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x011b, name: "bleBeaconFilter27", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x011c, name: "bleBeaconFilter28", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x011d, name: "bleBeaconFilter29", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x011e, name: "bleBeaconFilter30", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x011f, name: "bleBeaconFilter31", unit: "", scale: 1, min: 0, max: 255 },
  { id: 0x0120, name: "heartbeatPeriod0", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0121, name: "heartbeatPeriod1", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0122, name: "heartbeatPeriod2", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0123, name: "heartbeatPeriod3", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0124, name: "heartbeatPeriod4", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0125, name: "heartbeatPeriod5", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0126, name: "heartbeatPeriod6", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0127, name: "heartbeatPeriod7", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0128, name: "heartbeatPeriod8", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0129, name: "heartbeatPeriod9", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x012a, name: "heartbeatPeriod10", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x012b, name: "heartbeatPeriod11", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x012c, name: "heartbeatPeriod12", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x012d, name: "heartbeatPeriod13", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x012e, name: "heartbeatPeriod14", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x012f, name: "heartbeatPeriod15", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0130, name: "heartbeatPeriod16", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0131, name: "heartbeatPeriod17", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0132, name: "heartbeatPeriod18", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0133, name: "heartbeatPeriod19", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0134, name: "heartbeatPeriod20", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0135, name: "heartbeatPeriod21", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0136, name: "heartbeatPeriod22", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0137, name: "heartbeatPeriod23", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0138, name: "heartbeatPeriod24", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x0139, name: "heartbeatPeriod25", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x013a, name: "heartbeatPeriod26", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x013b, name: "heartbeatPeriod27", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x013c, name: "heartbeatPeriod28", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x013d, name: "heartbeatPeriod29", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x013e, name: "heartbeatPeriod30", unit: "min", scale: 1, min: 1, max: 1440 },
  { id: 0x013f, name: "heartbeatPeriod31", unit: "min", scale: 1, min: 1, max: 1440 },
];

const REGISTERS_BY_ID = new Map(REGISTERS.map((register) => [register.id, register]));
const REGISTERS_BY_NAME = new Map(REGISTERS.map((register) => [register.name, register]));

const ALARMS = new Map([
  [1, "sos"],
  [2, "fall"],
  [3, "geofence-exit"],
  [4, "geofence-entry"],
  [5, "tamper"],
  [6, "low-battery"],
]);

const round = (value, digits = 7) => Number(value.toFixed(digits));

class MessageDecoder {
  constructor(type, name) {
    this.type = type;
    this.name = name;
  }
  decode(reader, context) {
    throw new Error(`${this.name}: not implemented`);
  }
}

class PositionDecoder extends MessageDecoder {
  constructor() {
    super(0x01, "position");
  }
  decode(reader, { warnings }) {
    const latitude = round(reader.i32("latitude") / 1e7);
    const longitude = round(reader.i32("longitude") / 1e7);
    const altitude = reader.u16("altitude");
    const satellites = reader.u8("satellites");
    if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
      throw new RangeError(`position out of range: ${latitude}, ${longitude}`);
    }
    if (satellites < 4) warnings.push(`weak fix: ${satellites} satellites`);
    return { latitude, longitude, altitude, satellites };
  }
}

class StatusDecoder extends MessageDecoder {
  constructor() {
    super(0x02, "status");
  }
  decode(reader, { warnings }) {
    const battery = reader.u16("battery") / 1000;
    const temperature = reader.i8("temperature");
    const flags = reader.u8("flags");
    if (battery < 3.3) warnings.push(`battery low: ${battery} V`);
    return {
      battery,
      temperature,
      moving: Boolean(flags & 0x01),
      charging: Boolean(flags & 0x02),
      sos: Boolean(flags & 0x04),
    };
  }
}

class WifiDecoder extends MessageDecoder {
  constructor() {
    super(0x03, "wifi");
  }
  decode(reader) {
    const count = reader.u8("count");
    const accessPoints = Array.from({ length: count }, (_, index) => ({
      bssid: reader.hex(6, `bssid ${index}`),
      rssi: reader.i8(`rssi ${index}`),
    }));
    accessPoints.sort((first, second) => second.rssi - first.rssi);
    return { accessPoints };
  }
}

class RegistersDecoder extends MessageDecoder {
  constructor() {
    super(0x04, "registers");
  }
  decode(reader, { warnings }) {
    const count = reader.u8("count");
    const registers = {};
    for (let index = 0; index < count; index += 1) {
      const id = reader.u16(`register ${index} id`);
      const raw = reader.i32(`register ${index} value`);
      const register = REGISTERS_BY_ID.get(id);
      if (register === undefined) {
        warnings.push(`unknown register 0x${id.toString(16).padStart(4, "0")}`);
        continue;
      }
      const { name, scale, unit } = register;
      registers[name] = unit ? { value: round(raw * scale, 3), unit } : round(raw * scale, 3);
    }
    return { registers };
  }
}

class AlarmDecoder extends MessageDecoder {
  constructor() {
    super(0x05, "alarm");
  }
  decode(reader) {
    const code = reader.u8("alarm code");
    const seconds = reader.u32("alarm time");
    return { alarm: ALARMS.get(code) || `unknown-${code}`, at: new Date(seconds * 1000).toISOString() };
  }
}

const DECODERS = new Map(
  [new PositionDecoder(), new StatusDecoder(), new WifiDecoder(), new RegistersDecoder(), new AlarmDecoder()].map(
    (decoder) => [decoder.type, decoder]
  )
);

const UPLINK_PORT = 10;
const DOWNLINK_PORT = 20;

function decodeUplink({ bytes, fPort }) {
  if (fPort !== UPLINK_PORT) return { errors: [`unexpected FPort ${fPort}, expected ${UPLINK_PORT}`] };
  if (bytes.length === 0) return { errors: ["empty payload"] };
  const reader = new ByteReader(bytes);
  const type = reader.u8("type");
  const decoder = DECODERS.get(type);
  if (decoder === undefined) return { errors: [`unknown message type 0x${type.toString(16)}`] };
  const warnings = [];
  try {
    const data = { type: decoder.name, ...decoder.decode(reader, { warnings }) };
    if (reader.remaining > 0) warnings.push(`${reader.remaining} trailing bytes ignored`);
    return { data, warnings, errors: [] };
  } catch (error) {
    return { warnings, errors: [String(error.message)] };
  }
}

const encodeSet = (writer, settings, errors) => {
  writer.u8(0x40);
  for (const [name, value] of Object.entries(settings)) {
    const register = REGISTERS_BY_NAME.get(name);
    if (register === undefined) {
      errors.push(`unknown register ${name}`);
      continue;
    }
    const raw = Math.round(value / register.scale);
    if (raw < register.min || raw > register.max) {
      errors.push(`${name} must be between ${register.min * register.scale} and ${register.max * register.scale}`);
      continue;
    }
    writer.u16(register.id).i32(raw);
  }
};

const encodeRead = (writer, names, errors) => {
  writer.u8(0x41);
  for (const name of names) {
    const register = REGISTERS_BY_NAME.get(name);
    if (register === undefined) errors.push(`unknown register ${name}`);
    else writer.u16(register.id);
  }
};

function encodeDownlink({ data }) {
  const errors = [];
  const writer = new ByteWriter();
  if (data.set && typeof data.set === "object") encodeSet(writer, data.set, errors);
  else if (Array.isArray(data.read)) encodeRead(writer, data.read, errors);
  else errors.push("give set (register names and values) or read (register names)");
  return errors.length ? { errors } : { bytes: writer.bytes, fPort: DOWNLINK_PORT, warnings: [], errors: [] };
}

function decodeDownlink({ bytes, fPort }) {
  const reader = new ByteReader(bytes);
  const command = reader.u8("command");
  if (command === 0x40) {
    const set = {};
    while (reader.remaining >= 6) {
      const register = REGISTERS_BY_ID.get(reader.u16());
      const raw = reader.i32();
      if (register) set[register.name] = round(raw * register.scale, 3);
    }
    return { data: { set }, warnings: [], errors: [] };
  }
  if (command === 0x41) {
    const read = [];
    while (reader.remaining >= 2) {
      const register = REGISTERS_BY_ID.get(reader.u16());
      if (register) read.push(register.name);
    }
    return { data: { read }, warnings: [], errors: [] };
  }
  return { errors: [`unknown command 0x${command.toString(16)} on FPort ${fPort}`] };
}
