/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The text-level checks made before libconfig sees a file: size, NUL bytes, line count,
 * @include and integer literals libconfig would silently wrap. */

#include <ctype.h>
#include <limits.h>

#include "config-internal.h"
#include "config.h"
#include "util.h"

/* Inline rather than strchr() on a set: this runs for every character of every drop-in on
 * every reload. */
static bool is_name_char(char c)
{
        return isalnum((unsigned char) c) || c == '-' || c == '_' || c == '*';
}

static bool is_float_char(char c)
{
        return isdigit((unsigned char) c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* libconfig 1.5 reads integer literals with atoi()-like wrap-around ("vlan = 4294967396" is
 * silently 100) and follows @include to any file. Neither is acceptable for a root-owned
 * daemon config, and neither can be seen in the parsed tree, so we scan the text first with
 * just enough of libconfig's lexer to find literals and line starts outside strings and
 * comments. Also bounds what libconfig gets to see. */
void config_prescan(Parser *p, const char *text, size_t len)
{
        enum {
                NORMAL,
                STRING,
                LINE_COMMENT,
                BLOCK_COMMENT
        } state = NORMAL;
        unsigned line = 1;
        bool line_start = true;

        if (len > CONFIG_FILE_SIZE_MAX) {
                parser_error(p, 1, "file is larger than %u bytes", CONFIG_FILE_SIZE_MAX);
                return;
        }

        for (size_t i = 0; i < len; i++) {
                char c = text[i];

                if (c == '\0') {
                        parser_error(p, line, "file contains a NUL byte (not a text file?)");
                        return;
                }
                if (c == '\n') {
                        if (line >= CONFIG_FILE_LINES_MAX && i + 1 < len) {
                                parser_error(p, line, "file has more than %u lines", CONFIG_FILE_LINES_MAX);
                                return;
                        }
                        line++;
                        line_start = true;
                        if (state == LINE_COMMENT)
                                state = NORMAL;
                        continue;
                }

                switch (state) {
                case STRING:
                        if (c == '\\' && i + 1 < len && text[i + 1] != '\n' && text[i + 1] != '\0')
                                i++;
                        else if (c == '"')
                                state = NORMAL;
                        continue;
                case LINE_COMMENT:
                        continue;
                case BLOCK_COMMENT:
                        if (c == '*' && i + 1 < len && text[i + 1] == '/') {
                                i++;
                                state = NORMAL;
                        }
                        continue;
                case NORMAL:
                        break;
                }

                if (c == ' ' || c == '\t' || c == '\r')
                        continue;
                if (line_start && c == '@' && len - i >= 8 && strncmp(text + i, "@include", 8) == 0) {
                        parser_error(p, line, "@include is not supported; use separate drop-in files");
                        i += 7;
                        line_start = false;
                        continue;
                }
                line_start = false;

                if (c == '"')
                        state = STRING;
                else if (c == '#')
                        state = LINE_COMMENT;
                else if (c == '/' && i + 1 < len && text[i + 1] == '/')
                        state = LINE_COMMENT;
                else if (c == '/' && i + 1 < len && text[i + 1] == '*') {
                        state = BLOCK_COMMENT;
                        i++;
                } else if (isalpha((unsigned char) c) || c == '*' || c == '_') {
                        /* A name or true/false: digits in it are not numbers. */
                        while (i + 1 < len && is_name_char(text[i + 1]))
                                i++;
                } else if (isdigit((unsigned char) c) ||
                           ((c == '-' || c == '+') && i + 1 < len && isdigit((unsigned char) text[i + 1]))) {
                        size_t start = i, end;
                        bool hex, neg = c == '-', is_long = false, is_float = false;
                        unsigned long long v = 0;
                        bool overflow = false;

                        if (c == '-' || c == '+')
                                i++;
                        hex = text[i] == '0' && i + 1 < len && (text[i + 1] == 'x' || text[i + 1] == 'X');
                        if (hex)
                                i += 2;
                        for (; i < len; i++) {
                                unsigned d;

                                if (isdigit((unsigned char) text[i]))
                                        d = text[i] - '0';
                                else if (hex && isxdigit((unsigned char) text[i]))
                                        d = tolower((unsigned char) text[i]) - 'a' + 10;
                                else
                                        break;
                                if (v > (ULLONG_MAX - d) / (hex ? 16 : 10))
                                        overflow = true;
                                else
                                        v = v * (hex ? 16 : 10) + d;
                        }
                        /* A NUL after the digits counts as a float here, as it did with
                         * strchr(): reported as the NUL byte, not as a number out of range. */
                        if (!hex && i < len &&
                            (text[i] == '.' || text[i] == 'e' || text[i] == 'E' || text[i] == '\0'))
                                is_float = true;
                        if (i < len && text[i] == 'L') {
                                is_long = true;
                                if (i + 1 < len && text[i + 1] == 'L')
                                        i++;
                                i++;
                        }
                        end = i;
                        i--; /* the loop's i++ */
                        if (is_float) {
                                /* Skip the rest of the float; its value is never used. */
                                while (i + 1 < len && is_float_char(text[i + 1]))
                                        i++;
                                continue;
                        }
                        if (overflow || (is_long ? v > (unsigned long long) INT64_MAX + neg
                                                 : v > (unsigned long long) INT32_MAX + (neg && !hex)))
                                parser_error(p, line, "number %.*s is out of range",
                                             (int) MIN(end - start, 40), text + start);
                }
        }
}
