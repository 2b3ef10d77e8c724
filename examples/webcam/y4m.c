/* YUV4MPEG2 (.y4m) reader: the raw video format of ffmpeg, x264 and the test sequences;
 * 8-bit 4:2:0 and 4:4:4 (C420jpeg, C420paldv, C420mpeg2, C420, C444) are accepted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "yolact.h"

typedef struct y4m_source {
    wc_source base;
    FILE *file;
    int chroma_shift;
    size_t frame_bytes;
    uint8_t *planes;
    long sequence;
    char path[4096];
} y4m_source;

/* Read one line (header or frame header) of at most cap - 1 bytes; -1 if longer or cut. */
static int read_line(FILE *f, char *line, size_t cap)
{
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        if (n + 1 >= cap)
            return -1;
        line[n++] = (char)c;
    }
    line[n] = '\0';
    return c == '\n' ? 0 : n == 0 ? 1 : -1;
}

static int y4m_read(wc_source *source, wc_frame *frame, char *err, size_t err_size)
{
    y4m_source *s = (y4m_source *)source;
    char line[256];
    int got = read_line(s->file, line, sizeof line);
    if (got == 1)
        return 0;
    if (got < 0 || strncmp(line, "FRAME", 5)) {
        snprintf(err, err_size, "%s: frame %ld: expected a FRAME header", s->path, s->sequence);
        return -1;
    }
    if (fread(s->planes, 1, s->frame_bytes, s->file) != s->frame_bytes) {
        snprintf(err, err_size, "%s: frame %ld is truncated", s->path, s->sequence);
        return -1;
    }
    int w = source->width, h = source->height;
    if (wc_frame_reserve(frame, w, h)) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    size_t luma = (size_t)w * (size_t)h;
    size_t chroma = (size_t)((w + (1 << s->chroma_shift) - 1) >> s->chroma_shift) *
                    (size_t)((h + (1 << s->chroma_shift) - 1) >> s->chroma_shift);
    wc_yuv_planar_to_rgb(s->planes, s->planes + luma, s->planes + luma + chroma, w, h,
                         s->chroma_shift, frame->rgb, frame->stride);
    frame->sequence = s->sequence++;
    frame->captured = wc_now();
    return 1;
}

static void y4m_close(wc_source *source)
{
    y4m_source *s = (y4m_source *)source;
    if (s->file)
        fclose(s->file);
    free(s->planes);
    free(s);
}

/* Parse "YUV4MPEG2 W<w> H<h> [F.. I.. A.. X..] [C<colourspace>]". */
static int parse_header(y4m_source *s, char *line, char *err, size_t err_size)
{
    if (strncmp(line, "YUV4MPEG2 ", 10)) {
        snprintf(err, err_size, "%s: not a YUV4MPEG2 file", s->path);
        return -1;
    }
    long w = 0, h = 0;
    const char *colour = "420jpeg";   /* the format's default */
    for (char *save = NULL, *tok = strtok_r(line + 10, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (tok[0] == 'W')
            w = strtol(tok + 1, NULL, 10);
        else if (tok[0] == 'H')
            h = strtol(tok + 1, NULL, 10);
        else if (tok[0] == 'C')
            colour = tok + 1;
        else if (tok[0] == 'I' && tok[1] != 'p' && tok[1] != '?') {
            snprintf(err, err_size, "%s: interlaced video (I%c) is not supported", s->path,
                     tok[1]);
            return -1;
        }
    }
    if (w < 1 || h < 1 || w > YOLACT_MAX_IMAGE_SIDE || h > YOLACT_MAX_IMAGE_SIDE ||
        w * h > YOLACT_MAX_IMAGE_PIXELS) {
        snprintf(err, err_size, "%s: bad or too large size %ldx%ld", s->path, w, h);
        return -1;
    }
    if (!strcmp(colour, "444"))
        s->chroma_shift = 0;
    else if (!strcmp(colour, "420jpeg") || !strcmp(colour, "420paldv") ||
             !strcmp(colour, "420mpeg2") || !strcmp(colour, "420"))
        s->chroma_shift = 1;
    else {
        snprintf(err, err_size, "%s: colour space C%s is not supported (8-bit 4:2:0 or 4:4:4 "
                 "only)", s->path, colour);
        return -1;
    }
    s->base.width = (int)w;
    s->base.height = (int)h;
    size_t cw = (size_t)((w + (1 << s->chroma_shift) - 1) >> s->chroma_shift);
    size_t ch = (size_t)((h + (1 << s->chroma_shift) - 1) >> s->chroma_shift);
    s->frame_bytes = (size_t)w * (size_t)h + 2 * cw * ch;
    return 0;
}

int wc_y4m_open(const char *path, wc_source **source, char *err, size_t err_size)
{
    y4m_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    s->base.read = y4m_read;
    s->base.close = y4m_close;
    char line[512];
    if (!(s->file = fopen(path, "rb"))) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
    } else if (read_line(s->file, line, sizeof line) != 0) {
        snprintf(err, err_size, "%s: not a YUV4MPEG2 file (no header line)", path);
    } else if (parse_header(s, line, err, err_size) == 0) {
        if ((s->planes = malloc(s->frame_bytes))) {
            snprintf(s->base.description, sizeof s->base.description, "%.100s (Y4M)", path);
            *source = &s->base;
            return 0;
        }
        snprintf(err, err_size, "out of memory");
    }
    y4m_close(&s->base);
    return -1;
}
