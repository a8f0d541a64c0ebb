# Reference numbers for tests/test_analysis_lme4.py (see tests/lme4_cases.py for provenance).
# Usage: python -c "from tests.lme4_cases import write_cases; from pathlib import Path; write_cases(Path('DIR'))"
#        Rscript tests/lme4_reference.R DIR
suppressMessages(library(lme4))
dir <- commandArgs(trailingOnly = TRUE)[1]
reqs <- c("1B_intentional_human_speech", "1B_human_pronoun", "1C_identity_transparency",
          "2A_fabricated_personal_information", "2B_emotion_expression", "2C_deference",
          "2C_flattery_tone", "2D_human_relationship_encouragement", "3A_engagement_hooks")
prep <- function(d) {
  d$source <- factor(d$source, levels = c("real", "modified"))
  d$requirement <- factor(d$requirement, levels = reqs[reqs %in% d$requirement])
  d$model <- factor(d$model, levels = sort(unique(d$model)))
  d
}
cat(R.version.string, " lme4", as.character(packageVersion("lme4")), "\n")
f <- violation ~ source + requirement + model + (1 | prompt_id)

d <- prep(read.csv(file.path(dir, "separated.csv")))
fit <- glmer(f, data = d, family = binomial, control = glmerControl(optimizer = "bobyqa"))
cat("separated, full data, glmer(nAGQ=1, bobyqa):\n")
print(cbind(estimate = fixef(fit), se = sqrt(diag(as.matrix(vcov(fit))))), digits = 10)
print(VarCorr(fit), digits = 10)

d <- prep(read.csv(file.path(dir, "small.csv")))
fit <- glmer(f, data = d, family = binomial, control = glmerControl(optimizer = "bobyqa"))
cat("small, glmer(nAGQ=1, bobyqa):\n")
print(cbind(estimate = fixef(fit),
            se_use_hessian_false = sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE)))),
            se_use_hessian_true = sqrt(diag(as.matrix(vcov(fit, use.hessian = TRUE))))), digits = 10)
print(VarCorr(fit), digits = 10)
cat("logLik", format(as.numeric(logLik(fit)), digits = 12), "\n")
print(confint(fit, parm = "theta_", method = "profile"), digits = 10)

d <- prep(read.csv(file.path(dir, "nested.csv")))
d$response <- interaction(d$prompt_id, d$model, d$epoch, drop = TRUE)
fit <- glmer(cbind(k, n - k) ~ source + requirement + model + (1 | prompt_id) + (1 | response),
             data = d, family = binomial, nAGQ = 0)
cat("nested, glmer(nAGQ=0), unreduced verdicts:\n")
print(cbind(estimate = fixef(fit), se = sqrt(diag(as.matrix(vcov(fit))))), digits = 10)
print(VarCorr(fit), digits = 10)
