/* yolact-webcam: live instance segmentation from a V4L2 camera (or a video file) shown in
 * a window, or written as overlay PNGs with --headless. Capture, inference and display run
 * on three threads joined by latest-frame slots, so a slow network drops camera frames
 * instead of falling behind: what is shown is at most one frame older than the camera. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cli_error.h"
#include "common/cli_options.h"
#include "webcam/slot.h"
#include "webcam/source.h"
#include "webcam/window.h"
#include "yolact.h"

static const char usage[] =
    "usage: yolact-webcam -m WEIGHTS [options]\n"
    "  -m, --model FILE          checkpoint (.pth zip or legacy, .safetensors)\n"
    "  -c, --config PRESET       preset (default: the file's metadata's, else from the file\n"
    "                            name, else guessed)\n"
    "  -d, --device DEV          V4L2 camera (default /dev/video0)\n"
    "  -r, --resolution WxH      capture size asked of the camera (default 640x480)\n"
    "      --input VIDEO         read a .y4m file (8-bit 4:2:0 or 4:4:4), a directory of\n"
    "                            images or a glob ('frames/*.png') instead of a camera\n"
    "      --backend B           cpu | cuda | auto (default auto)\n"
    "      --precision P         fp32 | fp16 (default: the backend's best)\n"
    "      --threads N           CPU threads for inference (default: all cores)\n"
    "  -t, --score-threshold T   show detections scoring above T (default 0.3; +/- keys)\n"
    "      --headless            no window: write overlays to --out\n"
    "  -o, --out DIR             where overlays (--headless) and 's' screenshots go\n"
    "      --frames N            stop after showing N frames\n"
    "      --screenshot FILE     at the end, save what the window shows to FILE\n"
    "  -h, --help\n"
    "keys: q/Esc quit, space pause, + / - score threshold, s screenshot\n";

typedef struct options {
    const char *model_path, *preset, *device, *input, *out_dir, *screenshot_path;
    int width, height, headless;
    long frames;
    float threshold;
    yolact_session_options session;
} options;

/* What the three threads share. */
typedef struct demo {
    wc_source *source;
    const yolact_model *model;
    yolact_session_options session_options;
    yolact_session *session;       /* the inference thread's once threads run */
    int session_milli;             /* the score threshold the session filters at */
    wc_slot captured, shown;
    wc_frame *capture_frame, *inference_in, *inference_out, *display_frame;
    atomic_int threshold_milli;    /* changed by the keys while inference reads it */
    double latency_sum, inference_sum; /* over the frames shown, for the summary */
    char capture_error[512], inference_error[512];
} demo;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int parse_args(int argc, char **argv, options *o)
{
    enum { O_INPUT = 256, O_HEADLESS, O_FRAMES, O_SHOT };
    static const struct option longs[] = {
        CLI_OPTIONS_MODEL, CLI_OPTIONS_SESSION,
        {"device", required_argument, 0, 'd'}, {"resolution", required_argument, 0, 'r'},
        {"input", required_argument, 0, O_INPUT},
        {"score-threshold", required_argument, 0, 't'},
        {"headless", no_argument, 0, O_HEADLESS}, {"out", required_argument, 0, 'o'},
        {"frames", required_argument, 0, O_FRAMES},
        {"screenshot", required_argument, 0, O_SHOT},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    yolact_session_options_init(&o->session);
    cli_options shared;
    cli_options_init(&shared, "yolact-webcam", 0);
    shared.score_threshold = 0.3f;
    o->device = "/dev/video0";
    o->width = 640;
    o->height = 480;
    int opt;
    double v;
    while ((opt = getopt_long(argc, argv, "m:c:d:r:t:o:h", longs, NULL)) != -1) {
        /* -t is the shared --score-threshold; the window's keys move it from there. */
        int taken = cli_options_parse(&shared, opt == 't' ? CLI_OPT_SCORE_THRESHOLD : opt,
                                      optarg);
        if (taken < 0)
            return -1;
        if (taken)
            continue;
        switch (opt) {
        case 'd': o->device = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case O_INPUT: o->input = optarg; break;
        case O_HEADLESS: o->headless = 1; break;
        case 'r':
            if (sscanf(optarg, "%dx%d", &o->width, &o->height) != 2 || o->width < 2 ||
                o->height < 1 || o->width > 16384 || o->height > 16384) {
                fprintf(stderr, "yolact-webcam: --resolution wants WxH, got '%s'\n", optarg);
                return -1;
            }
            break;
        case O_FRAMES:
            if (cli_number("yolact-webcam", "--frames", optarg, 1, 1e9, &v)) return -1;
            o->frames = (long)v;
            break;
        case O_SHOT: o->screenshot_path = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    o->model_path = shared.model_path;
    o->preset = shared.preset;
    cli_options_session(&shared, &o->session);
    o->threshold = shared.score_threshold;
    if (optind < argc) {
        fprintf(stderr, "yolact-webcam: unexpected argument '%s'; see --help\n", argv[optind]);
        return -1;
    }
    if (!o->model_path) {
        fprintf(stderr, "yolact-webcam: -m WEIGHTS is required; see --help\n");
        return -1;
    }
    if (o->headless && !o->out_dir) {
        fprintf(stderr, "yolact-webcam: --headless needs --out DIR\n");
        return -1;
    }
    if (o->headless && o->screenshot_path) {
        fprintf(stderr, "yolact-webcam: --screenshot needs the window (no --headless)\n");
        return -1;
    }
    return 0;
}

static void *capture_thread(void *arg)
{
    demo *d = arg;
    int r;
    while ((r = d->source->read(d->source, d->capture_frame, d->capture_error,
                                sizeof d->capture_error)) == 1)
        if (wc_slot_put(&d->captured, &d->capture_frame))
            break;   /* the pipeline is shutting down */
    wc_slot_close(&d->captured);
    return NULL;
}

/* (Re)make the session for a score threshold (in thousandths): it then drops lower
 * detections before assembling their masks, which on a CPU costs more than the network
 * when many detections score low. */
static yolact_status make_session(demo *d, int milli)
{
    yolact_session_free(d->session);
    d->session = NULL;
    d->session_options.score_threshold = (float)milli / 1000.0f;
    d->session_milli = milli;
    return yolact_session_create(d->model, &d->session_options, &d->session);
}

static void *inference_thread(void *arg)
{
    demo *d = arg;
    while (wc_slot_take(&d->captured, &d->inference_in, -1) == 1) {
        wc_frame *in = d->inference_in, *out = d->inference_out;
        yolact_image image = {in->rgb, in->width, in->height, in->stride, YOLACT_PIXEL_RGB8,
                              YOLACT_MEMORY_HOST};
        const yolact_result *result;
        yolact_status s;
        int milli = atomic_load(&d->threshold_milli);
        if (milli != d->session_milli && (s = make_session(d, milli)) != YOLACT_OK) {
            cli_error_text(d->inference_error, sizeof d->inference_error,
                           "cannot remake the session for the new threshold", s);
            break;
        }
        double t0 = wc_now();
        if ((s = yolact_session_detect(d->session, &image, &result)) != YOLACT_OK) {
            cli_error_text(d->inference_error, sizeof d->inference_error, "detection failed", s);
            break;
        }
        in->inference = wc_now() - t0;
        if (wc_frame_copy(out, in)) {
            snprintf(d->inference_error, sizeof d->inference_error, "out of memory");
            break;
        }
        yolact_image_draw_detections(out->rgb, out->stride, result, 0);
        if (wc_slot_put(&d->shown, &d->inference_out))
            break;
    }
    /* Stop the capture too when this thread stopped first. */
    wc_slot_close(&d->captured);
    wc_slot_close(&d->shown);
    return NULL;
}

static int save_png(const char *path, const uint8_t *rgb, int width, int height, size_t stride)
{
    yolact_image image = {rgb, width, height, stride, YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
    yolact_status s = yolact_image_save_png(path, &image);
    if (s != YOLACT_OK) {
        cli_error("yolact-webcam", path, s);
        return -1;
    }
    return 0;
}

/* The window's own pixels, read back, to FILE: what a user would see. */
static int save_window(wc_window *window, const wc_frame *f, const char *path)
{
    char err[256];
    uint8_t *pixels = malloc(f->stride * (size_t)f->height);
    int rc = -1;
    if (!pixels)
        fprintf(stderr, "yolact-webcam: out of memory\n");
    else if (wc_window_read(window, pixels, f->width, f->height, err, sizeof err))
        fprintf(stderr, "yolact-webcam: %s\n", err);
    else
        rc = save_png(path, pixels, f->width, f->height, f->stride);
    free(pixels);
    return rc;
}

/* The live numbers on the frame's top-left corner, short enough for a 320-pixel frame:
 * frame rate, capture-to-display latency, score threshold. */
static void draw_hud(wc_frame *f, double fps, double latency, int milli)
{
    char text[96], rate[16] = "--"; /* no rate before the second frame */
    if (fps > 0)
        snprintf(rate, sizeof rate, "%.1f", fps);
    snprintf(text, sizeof text, "%s FPS  %.0f ms  >%.2f", rate, latency * 1e3,
             milli / 1000.0);
    yolact_image_draw_text(f->rgb, f->stride, f->width, f->height, 0, 0, text);
}

/* One key from the window: pause, threshold, screenshot. Returns 1 on quit. */
static int handle_key(demo *d, const options *o, wc_key key, long shown, int *paused)
{
    char path[4200];
    if (key == WC_KEY_QUIT)
        return 1;
    if (key == WC_KEY_PAUSE)
        *paused = !*paused;
    if (key == WC_KEY_MORE || key == WC_KEY_LESS) {
        int milli = atomic_load(&d->threshold_milli) + (key == WC_KEY_MORE ? 50 : -50);
        milli = milli < 0 ? 0 : milli > 950 ? 950 : milli;
        atomic_store(&d->threshold_milli, milli);
        fprintf(stderr, "yolact-webcam: score threshold %.2f\n", milli / 1000.0);
    }
    if (key == WC_KEY_SAVE && shown > 0) {
        const wc_frame *f = d->display_frame;
        snprintf(path, sizeof path, "%s/yolact-webcam-%06ld.png", o->out_dir ? o->out_dir : ".",
                 f->sequence);
        if (save_png(path, f->rgb, f->width, f->height, f->stride) == 0)
            fprintf(stderr, "yolact-webcam: saved %s\n", path);
    }
    return 0;
}

/* The display loop on the main thread: HUD, then window or PNG files. Returns the number
 * of frames shown, or -1 on an error it reported. */
static long display(demo *d, const options *o, wc_window *window)
{
    long shown = 0;
    int paused = 0;
    double fps = 0, last = 0;
    char path[4200], err[256];
    while (!interrupted) {
        if (window && handle_key(d, o, wc_window_poll(window), shown, &paused))
            break;
        if (paused) {
            /* Not taking frames: a camera's are dropped in the slots, a file waits. */
            nanosleep(&(struct timespec){0, 10000000L}, NULL);
            continue;
        }
        /* A short wait with a window, so keys are read while the network runs. */
        int r = wc_slot_take(&d->shown, &d->display_frame, window ? 10 : 100);
        if (r == 0)
            break;
        if (r < 0)
            continue;
        wc_frame *f = d->display_frame;
        double now = wc_now();
        if (last > 0) /* smoothed over about ten frames */
            fps = fps > 0 ? 0.9 * fps + 0.1 / (now - last) : 1.0 / (now - last);
        last = now;
        d->latency_sum += now - f->captured;
        d->inference_sum += f->inference;
        draw_hud(f, fps, now - f->captured, atomic_load(&d->threshold_milli));
        if (!window) {
            snprintf(path, sizeof path, "%s/frame_%06ld.png", o->out_dir, shown);
            if (save_png(path, f->rgb, f->width, f->height, f->stride))
                return -1;
        } else if (wc_window_show(window, f->rgb, f->width, f->height, f->stride, err,
                                  sizeof err)) {
            fprintf(stderr, "yolact-webcam: %s\n", err);
            return -1;
        }
        shown++;
        if (o->frames && shown >= o->frames)
            break;
    }
    if (o->screenshot_path) {
        if (shown == 0) {
            fprintf(stderr, "yolact-webcam: no frame was shown: no screenshot\n");
            return -1;
        }
        if (save_window(window, d->display_frame, o->screenshot_path))
            return -1;
    }
    return shown;
}

/* Start both threads, run the display, stop everything; returns the exit status. */
static int run(demo *d, const options *o, wc_window *window)
{
    pthread_t capture, inference;
    int lossless = !d->source->live;
    if (wc_slot_init(&d->captured, lossless, &d->capture_frame, &d->inference_in)) {
        fprintf(stderr, "yolact-webcam: cannot make the frame slots\n");
        return 1;
    }
    if (wc_slot_init(&d->shown, lossless, &d->inference_out, &d->display_frame)) {
        fprintf(stderr, "yolact-webcam: cannot make the frame slots\n");
        wc_slot_destroy(&d->captured);
        return 1;
    }
    int started = 0;
    if (pthread_create(&capture, NULL, capture_thread, d) == 0) {
        started = 1;
        if (pthread_create(&inference, NULL, inference_thread, d) == 0)
            started = 2;
    }
    long shown = -1;
    if (started == 2)
        shown = display(d, o, window);
    else
        fprintf(stderr, "yolact-webcam: cannot start the threads\n");
    /* Closing the slots wakes both threads; the capture thread ends at its next frame. */
    wc_slot_close(&d->captured);
    wc_slot_close(&d->shown);
    if (started >= 1)
        pthread_join(capture, NULL);
    if (started == 2)
        pthread_join(inference, NULL);
    int status = shown < 0 ? 1 : 0;
    if (d->capture_error[0]) {
        fprintf(stderr, "yolact-webcam: %s\n", d->capture_error);
        status = 1;
    }
    if (d->inference_error[0]) {
        fprintf(stderr, "yolact-webcam: %s\n", d->inference_error);
        status = 1;
    }
    if (shown > 0)
        fprintf(stderr, "yolact-webcam: %ld frames shown, mean latency %.0f ms (network "
                "%.0f ms), %ld dropped at capture, %ld before inference, %ld before "
                "display\n", shown, d->latency_sum / (double)shown * 1e3,
                d->inference_sum / (double)shown * 1e3, d->source->dropped,
                d->captured.dropped, d->shown.dropped);
    wc_slot_destroy(&d->captured);
    wc_slot_destroy(&d->shown);
    return status;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    if (parse_args(argc, argv, &o))
        return 2;
    demo d;
    memset(&d, 0, sizeof d);
    atomic_init(&d.threshold_milli, (int)(o.threshold * 1000.0f + 0.5f));
    char err[1024];
    /* Cheap checks first: the display and the camera, before the model loads. */
    wc_window *window = NULL;
    int made_out_dir = 0; /* removed again if the run fails before writing into it */
    if (o.headless) {
        if (mkdir(o.out_dir, 0777) == 0)
            made_out_dir = 1;
        else if (errno != EEXIST) {
            fprintf(stderr, "yolact-webcam: %s: cannot create the folder: %s; check the path "
                    "and its permissions\n", o.out_dir, strerror(errno));
            return 1;
        }
    } else if (wc_window_open("yolact-webcam", o.width, o.height, &window, err, sizeof err)) {
        fprintf(stderr, "yolact-webcam: %s\n", err);
        return 1;
    }
    int opened = o.input ? wc_file_source_open(o.input, &d.source, err, sizeof err)
                         : wc_v4l2_open(o.device, o.width, o.height, &d.source, err, sizeof err);
    if (opened) {
        fprintf(stderr, "yolact-webcam: %s\n", err);
        wc_window_close(window);
        if (made_out_dir)
            rmdir(o.out_dir);
        return 1;
    }
    fprintf(stderr, "yolact-webcam: reading %s\n", d.source->description);

    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = o.preset;
    yolact_model *model = NULL;
    yolact_status s = yolact_model_load(o.model_path, &mo, &model);
    if (s == YOLACT_OK) {
        d.model = model;
        d.session_options = o.session;
        s = make_session(&d, atomic_load(&d.threshold_milli));
    }
    int status;
    if (s != YOLACT_OK) {
        cli_error_text(err, sizeof err, o.model_path, s);
        fprintf(stderr, "yolact-webcam: %s\n", err);
        status = 1;
    } else {
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        status = run(&d, &o, window);
    }
    yolact_session_free(d.session);
    yolact_model_free(model);
    d.source->close(d.source);
    wc_window_close(window);
    if (status != 0 && made_out_dir)
        rmdir(o.out_dir); /* fails, as it should, once a frame is in it */
    return status;
}
