#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct doubt_seg_metrics {
    int classes;
    int64_t *confusion; /* [true][pred] */
    int64_t pixels, prob_pixels;
    double nll_sum, brier_sum;
    double bin_conf_sum[DOUBT_ECE_BINS];
    int64_t bin_correct[DOUBT_ECE_BINS];
    int64_t bin_count[DOUBT_ECE_BINS];
};

doubt_status doubt_seg_metrics_create(int classes, doubt_seg_metrics **out, doubt_error *err)
{
    *out = NULL;
    if (classes < 1 || classes > DOUBT_SEG_MAX_CLASSES)
        return doubt_fail(err, DOUBT_ERR_ARG, "seg metrics: %d classes, expected 1..%d", classes,
                          DOUBT_SEG_MAX_CLASSES);
    doubt_seg_metrics *m = calloc(1, sizeof *m);
    if (m)
        m->confusion = calloc((size_t)classes * (size_t)classes, sizeof *m->confusion);
    if (!m || !m->confusion) {
        doubt_seg_metrics_destroy(m);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "seg metrics: no memory for %d classes", classes);
    }
    m->classes = classes;
    *out = m;
    return DOUBT_OK;
}

void doubt_seg_metrics_destroy(doubt_seg_metrics *m)
{
    if (!m)
        return;
    free(m->confusion);
    free(m);
}

static int argmax(const float *prob, int64_t plane, int64_t i, int classes)
{
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (prob[c * plane + i] > prob[best * plane + i])
            best = c;
    return best;
}

int doubt_ece_bin(double confidence)
{
    int b = (int)floor(confidence * DOUBT_ECE_BINS);
    return b < 0 ? 0 : b >= DOUBT_ECE_BINS ? DOUBT_ECE_BINS - 1 : b;
}

doubt_status doubt_seg_metrics_add(doubt_seg_metrics *m, const uint8_t *label, const uint8_t *pred,
                                   const float *prob, int height, int width, doubt_error *err)
{
    if (!m || !label || (!pred && !prob) || height < 0 || width < 0)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "seg metrics: need label and pred or prob, and a size >= 0 (got %dx%d)",
                          width, height);
    const int C = m->classes;
    const int64_t n = (int64_t)height * width;
    /* Check the whole image first so a bad pixel leaves the sums untouched. */
    for (int64_t i = 0; i < n; i++) {
        if (label[i] == 255)
            continue;
        if (label[i] >= C)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "seg metrics: label %d at pixel (%d, %d) >= %d classes", label[i],
                              (int)(i % width), (int)(i / width), C);
        if (pred && pred[i] >= C)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "seg metrics: predicted class %d at pixel (%d, %d) >= %d classes",
                              pred[i], (int)(i % width), (int)(i / width), C);
        if (prob)
            for (int c = 0; c < C; c++)
                if (!isfinite(prob[c * n + i]))
                    return doubt_fail(
                        err, DOUBT_ERR_NUMERIC,
                        "seg metrics: probability of class %d at pixel (%d, %d) is not finite", c,
                        (int)(i % width), (int)(i / width));
    }
    for (int64_t i = 0; i < n; i++) {
        const int y = label[i];
        if (y == 255)
            continue;
        const int top = prob ? argmax(prob, n, i, C) : 0;
        const int p = pred ? pred[i] : top;
        m->confusion[y * C + p]++;
        m->pixels++;
        if (!prob)
            continue;
        double brier = 0.0;
        for (int c = 0; c < C; c++) {
            double d = (double)prob[c * n + i] - (c == y);
            brier += d * d;
        }
        const double py = prob[y * n + i];
        const double conf = prob[top * n + i];
        const int b = doubt_ece_bin(conf);
        m->nll_sum += -log(py > DOUBT_PROB_FLOOR ? py : DOUBT_PROB_FLOOR);
        m->brier_sum += brier;
        m->bin_conf_sum[b] += conf;
        m->bin_correct[b] += top == y;
        m->bin_count[b]++;
        m->prob_pixels++;
    }
    return DOUBT_OK;
}

const int64_t *doubt_seg_metrics_confusion(const doubt_seg_metrics *m) { return m->confusion; }

void doubt_seg_metrics_result(const doubt_seg_metrics *m, doubt_seg_result *r)
{
    memset(r, 0, sizeof *r);
    const int C = m->classes;
    r->classes = C;
    r->pixels = m->pixels;
    r->prob_pixels = m->prob_pixels;
    int64_t correct = 0;
    for (int c = 0; c < C; c++)
        correct += m->confusion[c * C + c];
    r->pixel_acc = m->pixels ? (double)correct / (double)m->pixels : NAN;

    double iou_sum = 0.0;
    for (int c = 0; c < DOUBT_SEG_MAX_CLASSES; c++)
        r->iou[c] = NAN;
    for (int c = 0; c < C; c++) {
        int64_t row = 0, col = 0;
        for (int k = 0; k < C; k++) {
            row += m->confusion[c * C + k];
            col += m->confusion[k * C + c];
        }
        const int64_t tp = m->confusion[c * C + c];
        const int64_t uni = row + col - tp;
        if (uni == 0)
            continue;
        r->iou[c] = (double)tp / (double)uni;
        iou_sum += r->iou[c];
        r->classes_present++;
    }
    r->miou = r->classes_present ? iou_sum / r->classes_present : NAN;

    const double np = (double)m->prob_pixels;
    r->nll = m->prob_pixels ? m->nll_sum / np : NAN;
    r->brier = m->prob_pixels ? m->brier_sum / np : NAN;
    double ece = 0.0;
    for (int b = 0; b < DOUBT_ECE_BINS; b++) {
        const double nb = (double)m->bin_count[b];
        r->bin_count[b] = m->bin_count[b];
        r->bin_conf[b] = nb > 0 ? m->bin_conf_sum[b] / nb : NAN;
        r->bin_acc[b] = nb > 0 ? (double)m->bin_correct[b] / nb : NAN;
        if (nb > 0)
            ece += nb / np * fabs(r->bin_acc[b] - r->bin_conf[b]);
    }
    r->ece = m->prob_pixels ? ece : NAN;
}
