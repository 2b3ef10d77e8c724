/* The named presets of the official configurations (data/config.py): only what the weights
 * cannot tell — input size, anchors, number of FPN downsample levels, input transform —
 * plus the COCO class names and category ids, and the official rule that picks a preset
 * from a checkpoint's file name. */
#include "model.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *const yl_coco_class_names[80] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake",
    "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop",
    "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush"
};

/* COCO category id of each network class (the inverse of the official COCO_LABEL_MAP). */
const int yl_coco_category_ids[80] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77,
    78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90
};

/* Every official YOLACT configuration trains with yolact_base's loss; im700 sees more masks. */
#define BASE_LOSS .loss = YL_LOSS_CONFIG_YOLACT(100)

#define COCO_ASPECT_RATIOS .num_aspect_ratios = 3, .aspect_ratios = {1.0f, 0.5f, 2.0f}

/* 2^(1/3) and 2^(2/3): YOLACT++'s three scales per level. */
#define CBRT2 1.2599210498948732
#define CBRT4 1.5874010519681994
#define PLUS_LEVEL(s) {s, (float)(s * CBRT2), (float)(s * CBRT4)}
#define PLUS_SCALES {PLUS_LEVEL(24), PLUS_LEVEL(48), PLUS_LEVEL(96), PLUS_LEVEL(192), PLUS_LEVEL(384)}

/* yolact_im400/im700 scale the base anchors as the official config does:
 * int(scale / 550 * size). */
static const yl_preset presets[] = {
    {.name = "yolact_base", .input_size = 550, .backbone = YOLACT_BACKBONE_RESNET,
     .first_selected_layer = 1, .num_downsample = 2, .num_scales = 1,
     .scales = {{24}, {48}, {96}, {192}, {384}}, COCO_ASPECT_RATIOS, .square_anchors = 1,
     .input_norm = YL_INPUT_MEAN_STD, BASE_LOSS},
    {.name = "yolact_im400", .input_size = 400, .backbone = YOLACT_BACKBONE_RESNET,
     .first_selected_layer = 1, .num_downsample = 2, .num_scales = 1,
     .scales = {{17}, {34}, {69}, {139}, {279}}, COCO_ASPECT_RATIOS, .square_anchors = 1,
     .input_norm = YL_INPUT_MEAN_STD, BASE_LOSS},
    {.name = "yolact_im700", .input_size = 700, .backbone = YOLACT_BACKBONE_RESNET,
     .first_selected_layer = 1, .num_downsample = 2, .num_scales = 1,
     .scales = {{30}, {61}, {122}, {244}, {488}}, COCO_ASPECT_RATIOS, .square_anchors = 1,
     .input_norm = YL_INPUT_MEAN_STD, .loss = YL_LOSS_CONFIG_YOLACT(300)},
    {.name = "yolact_resnet50", .input_size = 550, .backbone = YOLACT_BACKBONE_RESNET,
     .first_selected_layer = 1, .num_downsample = 2, .num_scales = 1,
     .scales = {{24}, {48}, {96}, {192}, {384}}, COCO_ASPECT_RATIOS, .square_anchors = 1,
     .input_norm = YL_INPUT_MEAN_STD, BASE_LOSS},
    {.name = "yolact_darknet53", .input_size = 550, .backbone = YOLACT_BACKBONE_DARKNET,
     .first_selected_layer = 2, .num_downsample = 2, .num_scales = 1,
     .scales = {{24}, {48}, {96}, {192}, {384}}, COCO_ASPECT_RATIOS, .square_anchors = 1,
     .input_norm = YL_INPUT_DIV_255, BASE_LOSS},
    /* YOLACT++: 3 scales per level, s * 2^(j/3), and anchors that are not square. The DCN
     * layers (every 3rd block of stages 2-4 for plus_base, every block for plus_resnet50)
     * and the mask-IoU net are read off the weights. */
    {.name = "yolact_plus_base", .input_size = 550, .backbone = YOLACT_BACKBONE_RESNET,
     .first_selected_layer = 1, .num_downsample = 2, .num_scales = 3,
     .scales = PLUS_SCALES, COCO_ASPECT_RATIOS, .square_anchors = 0,
     .input_norm = YL_INPUT_MEAN_STD, BASE_LOSS},
    {.name = "yolact_plus_resnet50", .input_size = 550, .backbone = YOLACT_BACKBONE_RESNET,
     .first_selected_layer = 1, .num_downsample = 2, .num_scales = 3,
     .scales = PLUS_SCALES, COCO_ASPECT_RATIOS, .square_anchors = 0,
     .input_norm = YL_INPUT_MEAN_STD, BASE_LOSS},
};
#define NUM_PRESETS (sizeof presets / sizeof presets[0])

const char *const *yolact_preset_names(void)
{
    static const char *const names[] = {"yolact_base", "yolact_im400", "yolact_im700",
                                        "yolact_resnet50", "yolact_darknet53",
                                        "yolact_plus_base", "yolact_plus_resnet50", NULL};
    return names;
}

const yl_preset *yl_preset_find(const char *name)
{
    for (size_t i = 0; name && i < NUM_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* eval.py's SavePath.from_str: basename without ".pth", split at '_', an "_interrupt"
 * suffix dropped, the last two parts the epoch and iteration, the rest the config name.
 * ".safetensors" files of converted releases follow the same naming. */
const yl_preset *yl_preset_from_file_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[256];
    size_t n = strlen(base);
    if (n >= sizeof name)
        return NULL;
    memcpy(name, base, n + 1);
    static const char *const extensions[] = {".pth", ".safetensors"};
    for (size_t i = 0; i < 2; i++) {
        size_t e = strlen(extensions[i]);
        if (n > e && strcmp(name + n - e, extensions[i]) == 0) {
            name[n -= e] = '\0';
            break;
        }
    }
    if (n > 10 && strcmp(name + n - 10, "_interrupt") == 0)
        name[n -= 10] = '\0';
    for (int part = 0; part < 2; part++) {
        char *sep = strrchr(name, '_');
        if (!sep || !all_digits(sep + 1, strlen(sep + 1)))
            return NULL;
        *sep = '\0';
    }
    return yl_preset_find(name);
}
