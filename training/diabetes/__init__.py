"""The second workload: a regression on scikit-learn's bundled diabetes data (442 patients,
ten baseline measurements, disease progression one year later; no download).

It shows the contract (`contract/` in the repository) with a model that is not the digits
network: a ridge regression on standardised features, judged by RMSE (lower is better).

`python -m training.diabetes.<program>`, run by the `diabetes_*` pipelines in `adf/`:
- `preprocess`: validates raw CSV rows `id,age,sex,bmi,bp,s1..s6[,target]` (reasons as the
  digits', plus `missing_value` and `bad_target`), curates the rest, histograms each feature
  over fixed edges (`data.FEATURE_EDGES`, the deciles of the whole dataset);
- `train`: fits the model on a seeded 80% of a labelled batch, RMSE/MAE/R^2 on the rest,
  writes the model as JSON (no pickle), the reference (feature histograms and a histogram of
  the model's own predictions on the batch, over the deciles of those predictions), and
  decides champion/challenger (lower RMSE wins, within `promotionTolerance`);
- `score`: predictions with the champion, summarised as a histogram over the champion
  reference's edges;
- `generate`: landing files, clean, malformed or drifted.

Everything lives under `diabetes/` in the ML container (`layout`), so it shares a container
with the digits without touching their champion.
"""
