/** Wire protocol version carried in Hello/HelloAck. Bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1;
/** Oldest protocol version the server still accepts. */
export const PROTOCOL_VERSION_MIN = 1;
/** Software version reported by servers and clients. */
export const PEGASUS_VERSION = '0.1.0';
