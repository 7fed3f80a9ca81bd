// Package twamp implements TWAMP-light (RFC 5357 appendix I) in
// unauthenticated mode: the Session-Sender and Session-Reflector test packet
// formats (RFC 5357 sections 4.1.2 and 4.2.1), NTP timestamps and error
// estimates (RFC 4656 section 4.1.2), and a UDP Reflector.
//
// Session-Sender test packet (SenderHeaderLen = 14 octets, then padding):
//
//	0  Sequence Number  4
//	4  Timestamp        8
//	12 Error Estimate   2
//	14 Packet Padding
//
// Session-Reflector test packet (ReflectorHeaderLen = 41 octets, then padding):
//
//	0  Sequence Number         4
//	4  Timestamp               8
//	12 Error Estimate          2
//	14 MBZ                     2
//	16 Receive Timestamp       8
//	24 Sender Sequence Number  4
//	28 Sender Timestamp        8
//	36 Sender Error Estimate   2
//	38 MBZ                     2
//	40 Sender TTL              1
//	41 Packet Padding
//
// The reflector answers with a packet at least as long as the one it
// received (symmetric size, RFC 6038): its padding is the sender's padding
// with the first 27 octets dropped, so a sender padding of 27 octets or more
// yields replies of exactly the sender's size.
package twamp
