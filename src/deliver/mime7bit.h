/* mime7bit — 8BITMIME downgrading (RFC 6152 3, RFC 2045): rewrite the
 * 8-bit body parts of a message as quoted-printable or base64 so that it
 * can go to a server that does not offer 8BITMIME. Pure: no I/O, no
 * logging, no globals; linear in the input for a bounded nesting depth.
 *
 * The walk (CRLF content; a bare LF also ends a line when parsing):
 * - an entity is a header section, an optional empty line, a body. The
 *   header section ends at the first empty line or at the first line that
 *   is neither a header field ("name:") nor a continuation (the body then
 *   starts there, as Python's email parser does);
 * - Content-Type multipart/<any> with a boundary= parameter: the parts
 *   between "--boundary" delimiter lines (transport padding allowed,
 *   "--boundary--" closes) are walked in turn; the preamble, the delimiter
 *   lines and the epilogue are copied unchanged. In multipart/digest a
 *   part without Content-Type is message/rfc822;
 * - message/rfc822: the embedded message is walked as a message;
 * - everything else is a leaf. A leaf whose Content-Transfer-Encoding is
 *   absent, 7bit or 8bit and whose body has a byte >= 0x80 is re-encoded:
 *   text/<any> and message/<other> as quoted-printable (CRLF kept as hard
 *   line breaks; lines of at most 76 characters with "=" soft breaks; '=',
 *   control bytes, bytes >= 0x80, a bare CR or LF, whitespace before a line
 *   end and a '-' that starts a line are encoded, the last so that no
 *   encoded line can ever look like a multipart delimiter), every other
 *   type as base64 in lines of 76 characters. Its (first)
 *   Content-Transfer-Encoding field is replaced, further ones dropped, or
 *   one is added at the end of the header section;
 * - a message (the top level or one inside message/rfc822) whose converted
 *   leaf is itself also gets "MIME-Version: 1.0" when it has none, and
 *   "Content-Type: text/plain; charset=utf-8" when it has no Content-Type
 *   (RFC 2045's default, us-ascii, cannot be right for an 8-bit body; UTF-8
 *   is the likely charset today). Parts of a multipart get no Content-Type;
 * - a multipart or message/rfc822 entity labelled 8bit or binary is
 *   relabelled 7bit when anything is converted;
 * - a multipart without a boundary= parameter or without any delimiter
 *   line, and anything nested deeper than MIME7BIT_DEPTH, is a text leaf
 *   (its body is quoted-printable: nothing is lost, and it goes 7-bit);
 * - a leaf labelled binary that has 8-bit bytes cannot be converted
 *   (RFC 6152 does not allow binary content over 8BITMIME either).
 * Left alone: 8-bit bytes in header fields (they need SMTPUTF8), in the
 * preamble and epilogue of a multipart, and in leaves that already claim
 * quoted-printable, base64 or an unknown encoding (malformed input that
 * re-encoding would change the meaning of). */
#ifndef POSTERN_DELIVER_MIME7BIT_H
#define POSTERN_DELIVER_MIME7BIT_H

#include <stddef.h>

#define MIME7BIT_DEPTH 20       /* multipart / message nesting walked */

#define MIME7BIT_CONVERTED 1
#define MIME7BIT_NOTHING 0
#define MIME7BIT_ENOMEM (-1)
#define MIME7BIT_BINARY (-2)

/* Downgrade content (len bytes, need not be NUL-terminated). Returns
 * MIME7BIT_CONVERTED with *out (malloc'd, NUL-terminated for convenience)
 * and *outlen set, MIME7BIT_NOTHING when no leaf needed converting,
 * MIME7BIT_ENOMEM, or MIME7BIT_BINARY when a binary leaf has 8-bit bytes.
 * *out is NULL unless the result is MIME7BIT_CONVERTED. */
int mime_downgrade_7bit(const char *content, size_t len, char **out, size_t *outlen);

#endif
