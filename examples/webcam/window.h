/* The display window (SDL2): shows RGB8 frames and reports the keys the demo knows. Built
 * as stubs that report "no SDL2" when the build found no SDL2. */
#ifndef WC_WINDOW_H
#define WC_WINDOW_H

#include <stddef.h>
#include <stdint.h>

typedef struct wc_window wc_window;

typedef enum wc_key {
    WC_KEY_NONE = 0,
    WC_KEY_QUIT,        /* q, Esc, or the window closed */
    WC_KEY_PAUSE,       /* space */
    WC_KEY_MORE,        /* + : raise the score threshold */
    WC_KEY_LESS,        /* - : lower it */
    WC_KEY_SAVE         /* s : screenshot */
} wc_key;

/* Open a window of width x height; -1 with the reason (no display, no SDL2) in err. */
int wc_window_open(const char *title, int width, int height, wc_window **window, char *err,
                   size_t err_size);
/* Show a frame (the window's texture follows the frame's size); -1 with err on failure. */
int wc_window_show(wc_window *window, const uint8_t *rgb, int width, int height, size_t stride,
                   char *err, size_t err_size);
/* The next pending key, WC_KEY_NONE when there is none. */
wc_key wc_window_poll(wc_window *window);
/* Read back the last frame as the renderer composes it for the window, width x height RGB8
 * into rgb (3 * width a row): a screenshot of the window. -1 with err on failure. */
int wc_window_read(wc_window *window, uint8_t *rgb, int width, int height, char *err,
                   size_t err_size);
void wc_window_close(wc_window *window); /* NULL is fine */

#endif
