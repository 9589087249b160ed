"""Datasets: folders, image processing, captions with token counts, pre-flight check.

Layout of a dataset `NAME` (see layout.py):
    NAME/IMGS/                   originals, never modified
    NAME/HIGHRES_CONCEPT/        processed at the high resolution, with one .txt caption each
    NAME/LOWRES_CONCEPT/         processed at the low resolution, same stems and captions
    NAME/IMGS_<concept>/         more concepts, each with HIGHRES_CONCEPT_<concept>/ and
                                 LOWRES_CONCEPT_<concept>/
    NAME/dataset.json            per-concept settings (token, repeats, class prompt)
"""
