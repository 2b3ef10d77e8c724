/* Image files in and out of libyolact: PNG (libpng) and JPEG (libjpeg-turbo) decoded to RGB8
 * pixel for pixel as OpenCV 4.6's imread(path, IMREAD_COLOR) decodes them, and 8-bit RGB
 * PNG writing that never leaves a partial file behind. */
#include "image/image_io.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef YL_HAVE_JPEG
#include <jpeglib.h>
#include <jerror.h>
#endif

#include "input_limits.h"
#include "status.h"

/* Pixels being decoded: owned here until handed to the caller's yolact_image. */
typedef struct decoded {
    uint8_t *pixels;          /* width * height * 3, RGB */
    int width, height;
    unsigned orientation;     /* EXIF orientation; 1 (as stored) when absent */
} decoded;

/* The limits are checked on the declared size, before any pixel buffer exists. */
static yolact_status check_size(const char *name, uint32_t width, uint32_t height)
{
    if (width == 0 || height == 0)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: image declares %ux%u pixels", name,
                       (unsigned)width, (unsigned)height);
    if (width > (uint32_t)yl_limit_image_side() || height > (uint32_t)yl_limit_image_side())
        return yl_fail(YOLACT_ERR_LIMIT, "%s: %ux%u image exceeds the side limit of %d pixels",
                       name, (unsigned)width, (unsigned)height, yl_limit_image_side());
    if ((int64_t)width * height > yl_limit_image_pixels())
        return yl_fail(YOLACT_ERR_LIMIT, "%s: %ux%u image exceeds the limit of %lld pixels", name,
                       (unsigned)width, (unsigned)height, (long long)yl_limit_image_pixels());
    return YOLACT_OK;
}

static yolact_status alloc_pixels(const char *name, uint32_t width, uint32_t height, decoded *out)
{
    out->pixels = malloc((size_t)width * height * 3);
    if (!out->pixels)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for %ux%u pixels", name,
                       (unsigned)width, (unsigned)height);
    out->width = (int)width;
    out->height = (int)height;
    return YOLACT_OK;
}

/* ---------------------------------------------------------------------------------------
 * EXIF orientation */

static unsigned read_u16(const uint8_t *p, int big_endian)
{
    return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t read_u32(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)read_u16(p, 1) << 16 | read_u16(p + 2, 1)
                      : (uint32_t)read_u16(p + 2, 0) << 16 | read_u16(p, 0);
}

/* The orientation tag (0x0112) of IFD0 in TIFF-structured EXIF data, found as OpenCV's
 * ExifReader finds it: byte order "II" or "MM", the 42 mark, IFD0 at the header's offset,
 * the first 0x0112 entry's value read as 16 bits (type and count are not checked). An IFD
 * claiming more entries than the data holds keeps what was read before the end. */
static unsigned exif_orientation(const uint8_t *tiff, size_t size)
{
    if (size < 8 || tiff[0] != tiff[1] || (tiff[0] != 'I' && tiff[0] != 'M'))
        return 1;
    int big = tiff[0] == 'M';
    if (read_u16(tiff + 2, big) != 42)
        return 1;
    uint64_t ifd = read_u32(tiff + 4, big);
    if (ifd + 2 > size)
        return 1;
    unsigned entries = read_u16(tiff + ifd, big);
    for (unsigned i = 0; i < entries; i++) {
        uint64_t entry = ifd + 2 + 12 * (uint64_t)i;
        if (entry + 2 > size)
            break;
        if (read_u16(tiff + entry, big) != 0x0112)
            continue;
        return entry + 10 <= size ? read_u16(tiff + entry + 8, big) : 1;
    }
    return 1;
}

/* Rotate/flip to the orientation's upright view as OpenCV's ApplyExifOrientation does
 * (2 flip x, 3 flip both, 4 flip y, 5 transpose, 6..8 transpose then flip x, both, y).
 * Every case is a walk over the source: output pixel (x, y) is at byte
 * base + x * dx + y * dy of the stored pixels. */
static yolact_status apply_orientation(const char *name, decoded *d)
{
    if (d->orientation < 2 || d->orientation > 8)
        return YOLACT_OK;
    const ptrdiff_t w = d->width, h = d->height, row = 3 * w;
    const ptrdiff_t last_col = 3 * (w - 1), last_row = row * (h - 1);
    ptrdiff_t base = 0, dx = 3, dy = row;
    switch (d->orientation) {
    case 2: base = last_col;            dx = -3;   dy = row;  break;
    case 3: base = last_row + last_col; dx = -3;   dy = -row; break;
    case 4: base = last_row;            dx = 3;    dy = -row; break;
    case 5: base = 0;                   dx = row;  dy = 3;    break;
    case 6: base = last_row;            dx = -row; dy = 3;    break;
    case 7: base = last_row + last_col; dx = -row; dy = -3;   break;
    case 8: base = last_col;            dx = row;  dy = -3;   break;
    }
    const int transposed = d->orientation >= 5;
    const ptrdiff_t out_w = transposed ? h : w, out_h = transposed ? w : h;
    uint8_t *out = malloc((size_t)(w * h * 3));
    if (!out)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory to apply the EXIF orientation",
                       name);
    for (ptrdiff_t y = 0; y < out_h; y++) {
        uint8_t *dst = out + y * out_w * 3;
        for (ptrdiff_t x = 0; x < out_w; x++)
            memcpy(dst + 3 * x, d->pixels + base + x * dx + y * dy, 3);
    }
    free(d->pixels);
    d->pixels = out;
    d->width = (int)out_w;
    d->height = (int)out_h;
    return YOLACT_OK;
}

/* ---------------------------------------------------------------------------------------
 * PNG. libpng reports errors by calling our handler, which records the text and jumps back
 * to the setjmp of the function that drives it; nothing is printed. */

enum { PNG_MESSAGE_SIZE = 200 };

typedef struct png_source {
    const uint8_t *bytes;
    size_t size, pos;
    char message[PNG_MESSAGE_SIZE]; /* libpng's error text */
} png_source;

/* The error pointer of every png_struct here is a PNG_MESSAGE_SIZE buffer for the text. */
static void png_error_handler(png_structp png, png_const_charp message)
{
    snprintf(png_get_error_ptr(png), PNG_MESSAGE_SIZE, "%s", message);
    png_longjmp(png, 1);
}

static void png_warning_handler(png_structp png, png_const_charp message)
{
    (void)png; /* OpenCV ignores warnings (ancillary chunk CRCs, duplicate chunks): so do we */
    (void)message;
}

static void png_read_bytes(png_structp png, png_bytep out, size_t count)
{
    png_source *src = png_get_io_ptr(png);
    if (count > src->size - src->pos)
        png_error(png, "file is truncated");
    memcpy(out, src->bytes + src->pos, count);
    src->pos += count;
}

static yolact_status png_decode_run(png_structp png, png_infop info, png_source *src,
                                    const char *name, decoded *out)
{
    if (setjmp(png_jmpbuf(png)))
        return yl_fail(YOLACT_ERR_FORMAT, "%s: corrupt PNG: %s", name, src->message);
    /* Sizes are refused by check_size with their own status, not by libpng's defaults. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_read_fn(png, src, png_read_bytes);
    png_read_info(png, info);
    const png_uint_32 width = png_get_image_width(png, info);
    const png_uint_32 height = png_get_image_height(png, info);
    const int depth = png_get_bit_depth(png, info);
    const int color = png_get_color_type(png, info);
    YL_TRY(check_size(name, width, height));

    /* The transformations OpenCV asks for when the destination is 8-bit, 3 channels. */
    if (depth == 16)
        png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (!(color & PNG_COLOR_MASK_COLOR)) {
        if (depth < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t row_bytes = (size_t)width * 3;
    if (png_get_rowbytes(png, info) != row_bytes)
        return yl_fail(YOLACT_ERR_INTERNAL, "%s: PNG rows of %zu bytes after conversion, not %zu",
                       name, (size_t)png_get_rowbytes(png, info), row_bytes);

    YL_TRY(alloc_pixels(name, width, height, out));
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(png, out->pixels + y * row_bytes, NULL);
    /* Like OpenCV, the file must be complete up to IEND; an eXIf chunk may follow IDAT. */
    png_read_end(png, info);
    png_uint_32 exif_size = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &exif_size, &exif))
        out->orientation = exif_orientation(exif, exif_size);
    return YOLACT_OK;
}

static yolact_status decode_png(const uint8_t *bytes, size_t size, const char *name,
                                decoded *out)
{
    png_source src = {.bytes = bytes, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src.message,
                                             png_error_handler, png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    yolact_status status = info ? png_decode_run(png, info, &src, name, out)
                                : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for libpng",
                                          name);
    png_destroy_read_struct(&png, &info, NULL);
    return status;
}

/* ---------------------------------------------------------------------------------------
 * JPEG */

#ifdef YL_HAVE_JPEG
typedef struct jpeg_failure {
    struct jpeg_error_mgr manager; /* first: libjpeg hands this pointer to the handlers */
    jmp_buf jump;
} jpeg_failure;

static void jpeg_error_handler(j_common_ptr cinfo)
{
    longjmp(((jpeg_failure *)cinfo->err)->jump, 1);
}

/* Warnings are ignored as OpenCV ignores them (e.g. extraneous bytes before a marker, common
 * in camera files), except running out of data: libjpeg would pad the rest of the image
 * with gray and OpenCV would return it; a truncated file is an error here. */
static void jpeg_message_handler(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        jpeg_error_handler(cinfo);
}

static void jpeg_output_handler(j_common_ptr cinfo)
{
    (void)cinfo; /* never print */
}

static yolact_status jpeg_failure_status(j_common_ptr cinfo, const char *name)
{
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY:
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: libjpeg: %s", name, text);
    case JERR_BAD_PRECISION:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_SOF_UNSUPPORTED:
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: unsupported JPEG: %s", name, text);
    default:
        return yl_fail(YOLACT_ERR_FORMAT, "%s: corrupt JPEG: %s", name, text);
    }
}

/* OpenCV's CMYK conversion (libjpeg's raw Adobe CMYK values, K blended in with a >> 8). */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t width)
{
    for (size_t i = 0; i < width; i++, cmyk += 4, rgb += 3) {
        const int k = cmyk[3];
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)(k - ((255 - cmyk[c]) * k >> 8));
    }
}

static yolact_status jpeg_decode_run(struct jpeg_decompress_struct *cinfo, jpeg_failure *failure,
                                     const uint8_t *bytes, size_t size, const char *name,
                                     decoded *out)
{
    if (setjmp(failure->jump))
        return jpeg_failure_status((j_common_ptr)cinfo, name);
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, bytes, (unsigned long)size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    YL_TRY(check_size(name, cinfo->image_width, cinfo->image_height));

    /* OpenCV's settings: the library defaults (accurate integer IDCT, fancy upsampling),
     * RGB out (gray replicated), CMYK/YCCK as CMYK then converted below. */
    const int cmyk = cinfo->num_components == 4;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;

    /* OpenCV looks at the first APP1 only, TIFF data 6 bytes in (after "Exif\0\0"); an XMP
     * APP1 first fails its TIFF header check and hides the orientation. */
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1)
            continue;
        if (m->data_length > 6)
            out->orientation = exif_orientation(m->data + 6, m->data_length - 6);
        break;
    }

    jpeg_start_decompress(cinfo);
    const JDIMENSION width = cinfo->output_width, height = cinfo->output_height;
    if (width != cinfo->image_width || height != cinfo->image_height ||
        cinfo->output_components != (cmyk ? 4 : 3))
        return yl_fail(YOLACT_ERR_INTERNAL, "%s: libjpeg output %ux%ux%d for a %ux%u image",
                       name, width, height, cinfo->output_components, cinfo->image_width,
                       cinfo->image_height);
    YL_TRY(alloc_pixels(name, width, height, out));
    JSAMPARRAY cmyk_row = cmyk ? cinfo->mem->alloc_sarray((j_common_ptr)cinfo, JPOOL_IMAGE,
                                                          width * 4, 1)
                               : NULL;
    while (cinfo->output_scanline < height) {
        uint8_t *dst = out->pixels + (size_t)cinfo->output_scanline * width * 3;
        JSAMPROW row = cmyk ? cmyk_row[0] : dst;
        jpeg_read_scanlines(cinfo, &row, 1);
        if (cmyk)
            cmyk_to_rgb(row, dst, width);
    }
    jpeg_finish_decompress(cinfo);
    return YOLACT_OK;
}

static yolact_status decode_jpeg(const uint8_t *bytes, size_t size, const char *name,
                                 decoded *out)
{
    /* Zeroed so that destroy is safe whatever point a failure jumped back from. */
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_error_handler;
    failure.manager.emit_message = jpeg_message_handler;
    failure.manager.output_message = jpeg_output_handler;
    yolact_status status = jpeg_decode_run(&cinfo, &failure, bytes, size, name, out);
    jpeg_destroy_decompress(&cinfo);
    return status;
}
#else
static yolact_status decode_jpeg(const uint8_t *bytes, size_t size, const char *name,
                                 decoded *out)
{
    (void)bytes, (void)size, (void)out;
    return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: JPEG image, but libyolact was built without "
                   "JPEG support (install libjpeg62-turbo-dev and rebuild)", name);
}
#endif

/* ---------------------------------------------------------------------------------------
 * Decoding entry points */

/* Formats recognised only to say which one was refused. */
static const char *other_format(const uint8_t *b, size_t n)
{
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
        return "GIF";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return "WebP";
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4)))
        return "TIFF";
    if (n >= 14 && !memcmp(b, "BM", 2))
        return "BMP";
    return NULL;
}

yolact_status yl_image_decode_memory(const uint8_t *bytes, size_t size, const char *name,
                                     yolact_image *image)
{
    if (!image || (!bytes && size))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_image_decode_memory: NULL argument");
    *image = (yolact_image){0};
    if (!name)
        name = "image";
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};
    decoded d = {.orientation = 1};
    yolact_status status;
    if (size >= sizeof png_magic && !memcmp(bytes, png_magic, sizeof png_magic)) {
        status = decode_png(bytes, size, name, &d);
    } else if (size >= sizeof jpeg_magic && !memcmp(bytes, jpeg_magic, sizeof jpeg_magic)) {
        status = decode_jpeg(bytes, size, name, &d);
    } else if (size == 0) {
        return yl_fail(YOLACT_ERR_FORMAT, "%s: empty file", name);
    } else {
        const char *other = other_format(bytes, size);
        if (other)
            return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: %s images are not supported "
                           "(PNG and JPEG only)", name, other);
        return yl_fail(YOLACT_ERR_FORMAT, "%s: not a PNG or JPEG file", name);
    }
    if (status == YOLACT_OK)
        status = apply_orientation(name, &d);
    if (status != YOLACT_OK) {
        free(d.pixels);
        return status;
    }
    image->data = d.pixels;
    image->width = d.width;
    image->height = d.height;
    image->stride = (size_t)d.width * 3;
    image->format = YOLACT_PIXEL_RGB8;
    return YOLACT_OK;
}

static yolact_status read_file(const char *path, uint8_t **bytes, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return yl_fail(YOLACT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    yolact_status status = YOLACT_OK;
    *bytes = NULL;
    if (fstat(fileno(f), &st) != 0)
        status = yl_fail(YOLACT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        status = yl_fail(YOLACT_ERR_IO, "%s: not a regular file", path);
    else if (!(*bytes = malloc(st.st_size ? (size_t)st.st_size : 1)))
        status = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for %lld bytes", path,
                         (long long)st.st_size);
    else if (fread(*bytes, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        status = yl_fail(YOLACT_ERR_IO, "%s: read failed: %s", path,
                         ferror(f) ? strerror(errno) : "file shrank while reading");
    fclose(f);
    if (status != YOLACT_OK) {
        free(*bytes);
        *bytes = NULL;
        return status;
    }
    *size = (size_t)st.st_size;
    return YOLACT_OK;
}

yolact_status yolact_image_load(const char *path, yolact_image *image)
{
    yl_clear_error();
    if (!path || !image)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_image_load: %s is NULL",
                       path ? "image" : "path");
    *image = (yolact_image){0};
    uint8_t *bytes = NULL;
    size_t size = 0;
    YL_TRY(read_file(path, &bytes, &size));
    yolact_status status = yl_image_decode_memory(bytes, size, path, image);
    free(bytes);
    return status;
}

void yolact_image_free_pixels(yolact_image *image)
{
    if (!image)
        return;
    free((void *)image->data);
    image->data = NULL;
}

/* ---------------------------------------------------------------------------------------
 * PNG writing */

typedef struct png_sink {
    FILE *file;
    int write_errno;          /* errno of a failed write, 0 otherwise */
    char message[PNG_MESSAGE_SIZE];
} png_sink;

static void png_write_bytes(png_structp png, png_bytep data, size_t count)
{
    png_sink *sink = png_get_io_ptr(png);
    if (fwrite(data, 1, count, sink->file) != count) {
        sink->write_errno = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void png_flush_nothing(png_structp png)
{
    (void)png; /* the file is flushed and synced once, after png_write_end */
}

static yolact_status png_encode_run(png_structp png, png_infop info, png_sink *sink,
                                    const char *path, const yolact_image *image)
{
    if (setjmp(png_jmpbuf(png))) {
        if (sink->write_errno)
            return yl_fail(YOLACT_ERR_IO, "%s: writing failed: %s", path,
                           strerror(sink->write_errno));
        return yl_fail(YOLACT_ERR_IO, "%s: libpng failed: %s", path, sink->message);
    }
    png_set_write_fn(png, sink, png_write_bytes, png_flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)image->width, (png_uint_32)image->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (image->format == YOLACT_PIXEL_BGR8)
        png_set_bgr(png);
    for (int y = 0; y < image->height; y++)
        png_write_row(png, image->data + (size_t)y * image->stride);
    png_write_end(png, NULL);
    return YOLACT_OK;
}

static yolact_status png_encode(FILE *file, const char *path, const yolact_image *image)
{
    png_sink sink = {.file = file};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink.message,
                                              png_error_handler, png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    yolact_status status = info ? png_encode_run(png, info, &sink, path, image)
                                : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for libpng",
                                          path);
    png_destroy_write_struct(&png, &info);
    return status;
}

/* Create "<path>.<pid>.<n>.tmp" exclusively (the umask applies as for any new file). */
static int create_temp(const char *path, char *name, size_t name_size)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(name, name_size, "%s.%ld.%u.tmp", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

yolact_status yolact_image_save_png(const char *path, const yolact_image *image)
{
    yl_clear_error();
    if (!path || !image || !image->data)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_image_save_png: %s is NULL",
                       !path ? "path" : !image ? "image" : "image->data");
    if (image->width < 1 || image->width > yl_limit_image_side() || image->height < 1 ||
        image->height > yl_limit_image_side())
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: image size %dx%d outside 1..%d", path,
                       image->width, image->height, yl_limit_image_side());
    if (image->stride < (size_t)image->width * 3)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: stride %zu below 3 * width %d", path,
                       image->stride, image->width);
    if (image->format != YOLACT_PIXEL_RGB8 && image->format != YOLACT_PIXEL_BGR8)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: unknown pixel format %d", path,
                       (int)image->format);

    const size_t name_size = strlen(path) + 48;
    char *temp = malloc(name_size);
    if (!temp)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    int fd = create_temp(path, temp, name_size);
    if (fd < 0) {
        yolact_status status = yl_fail(YOLACT_ERR_IO, "%s: cannot create it: %s", path,
                                       strerror(errno));
        free(temp);
        return status;
    }
    FILE *file = fdopen(fd, "wb");
    yolact_status status = YOLACT_OK;
    if (!file) {
        status = yl_fail(YOLACT_ERR_IO, "%s: fdopen: %s", path, strerror(errno));
        close(fd);
    } else {
        status = png_encode(file, path, image);
        /* Flushed and synced before the rename, so the name never points at a partial file,
         * even after a crash. */
        if (status == YOLACT_OK && (fflush(file) != 0 || fsync(fileno(file)) != 0))
            status = yl_fail(YOLACT_ERR_IO, "%s: writing failed: %s", path, strerror(errno));
        if (fclose(file) != 0 && status == YOLACT_OK)
            status = yl_fail(YOLACT_ERR_IO, "%s: closing failed: %s", path, strerror(errno));
    }
    if (status == YOLACT_OK && rename(temp, path) != 0)
        status = yl_fail(YOLACT_ERR_IO, "%s: cannot move the finished file into place: %s",
                         path, strerror(errno));
    if (status != YOLACT_OK)
        unlink(temp);
    free(temp);
    return status;
}
