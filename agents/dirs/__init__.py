"""DIRS (Jiang et al., papers/mec-dirs-ensemble-drl.txt): ensemble agents per MEC server, Lévy-flight refinement, imitation pre-training."""
