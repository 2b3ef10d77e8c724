/* The display window on SDL2 (see window.h). */
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef WC_HAVE_SDL2
#include <SDL.h>

struct wc_window {
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    int width, height;    /* of the texture */
};

int wc_window_open(const char *title, int width, int height, wc_window **window, char *err,
                   size_t err_size)
{
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        snprintf(err, err_size, "no display (%s): run with --headless --out DIR",
                 SDL_GetError());
        return -1;
    }
    /* With no display SDL falls back to drivers that draw nowhere; a user who asks for
     * one by SDL_VIDEODRIVER gets it. */
    const char *driver = SDL_GetCurrentVideoDriver();
    if (!getenv("SDL_VIDEODRIVER") && driver &&
        (!strcmp(driver, "offscreen") || !strcmp(driver, "dummy"))) {
        snprintf(err, err_size, "no display (SDL found only its '%s' video driver): set "
                 "DISPLAY, or run with --headless --out DIR", driver);
        SDL_Quit();
        return -1;
    }
    wc_window *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_size, "out of memory");
        SDL_Quit();
        return -1;
    }
    w->window = SDL_CreateWindow(title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                 width, height, SDL_WINDOW_RESIZABLE);
    if (w->window)
        w->renderer = SDL_CreateRenderer(w->window, -1, 0);
    if (!w->renderer) {
        snprintf(err, err_size, "cannot open a window: %s", SDL_GetError());
        wc_window_close(w);
        return -1;
    }
    /* Keep the picture's aspect when the user resizes the window. */
    SDL_RenderSetLogicalSize(w->renderer, width, height);
    *window = w;
    return 0;
}

int wc_window_show(wc_window *w, const uint8_t *rgb, int width, int height, size_t stride,
                   char *err, size_t err_size)
{
    if (!w->texture || w->width != width || w->height != height) {
        if (w->texture)
            SDL_DestroyTexture(w->texture);
        w->texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_RGB24,
                                       SDL_TEXTUREACCESS_STREAMING, width, height);
        if (!w->texture) {
            snprintf(err, err_size, "cannot make a %dx%d texture: %s", width, height,
                     SDL_GetError());
            return -1;
        }
        w->width = width;
        w->height = height;
        SDL_SetWindowSize(w->window, width, height);
        SDL_RenderSetLogicalSize(w->renderer, width, height);
    }
    if (SDL_UpdateTexture(w->texture, NULL, rgb, (int)stride) != 0 ||
        SDL_RenderClear(w->renderer) != 0 ||
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL) != 0) {
        snprintf(err, err_size, "cannot draw the frame: %s", SDL_GetError());
        return -1;
    }
    SDL_RenderPresent(w->renderer);
    return 0;
}

wc_key wc_window_poll(wc_window *w)
{
    (void)w;
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        if (e.type == SDL_QUIT)
            return WC_KEY_QUIT;
        if (e.type != SDL_KEYDOWN)
            continue;
        switch (e.key.keysym.sym) {
        case SDLK_q: case SDLK_ESCAPE: return WC_KEY_QUIT;
        case SDLK_SPACE: return WC_KEY_PAUSE;
        case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: return WC_KEY_MORE;
        case SDLK_MINUS: case SDLK_KP_MINUS: return WC_KEY_LESS;
        case SDLK_s: return WC_KEY_SAVE;
        default: break;
        }
    }
    return WC_KEY_NONE;
}

int wc_window_read(wc_window *w, uint8_t *rgb, int width, int height, char *err,
                   size_t err_size)
{
    /* After a present the back buffer is undefined: draw the frame again, read, present. */
    SDL_Rect all = {0, 0, width, height};
    if (!w->texture || SDL_RenderClear(w->renderer) != 0 ||
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL) != 0 ||
        SDL_RenderReadPixels(w->renderer, &all, SDL_PIXELFORMAT_RGB24, rgb, 3 * width) != 0) {
        snprintf(err, err_size, "cannot read the window back: %s", SDL_GetError());
        return -1;
    }
    SDL_RenderPresent(w->renderer);
    return 0;
}

void wc_window_close(wc_window *w)
{
    if (!w)
        return;
    if (w->texture)
        SDL_DestroyTexture(w->texture);
    if (w->renderer)
        SDL_DestroyRenderer(w->renderer);
    if (w->window)
        SDL_DestroyWindow(w->window);
    free(w);
    SDL_Quit();
}

#else /* built without SDL2 */

int wc_window_open(const char *title, int width, int height, wc_window **window, char *err,
                   size_t err_size)
{
    (void)title; (void)width; (void)height; (void)window;
    snprintf(err, err_size, "built without SDL2 (install libsdl2-dev and rebuild): run with "
             "--headless --out DIR");
    return -1;
}

int wc_window_show(wc_window *window, const uint8_t *rgb, int width, int height, size_t stride,
                   char *err, size_t err_size)
{
    (void)window; (void)rgb; (void)width; (void)height; (void)stride;
    snprintf(err, err_size, "no window");
    return -1;
}

wc_key wc_window_poll(wc_window *window)
{
    (void)window;
    return WC_KEY_QUIT;
}

int wc_window_read(wc_window *window, uint8_t *rgb, int width, int height, char *err,
                   size_t err_size)
{
    (void)window; (void)rgb; (void)width; (void)height;
    snprintf(err, err_size, "no window");
    return -1;
}

void wc_window_close(wc_window *window)
{
    (void)window;
}
#endif
